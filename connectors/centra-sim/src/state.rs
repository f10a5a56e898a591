//! The mutable world: a compact index over all orders, full copies of the
//! orders that changed, stock, purchase orders and deliveries.

use crate::data::{self, Generator, OrderHeader, Profile};
use crate::model::*;
use chrono::{DateTime, Utc};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

/// One order in the index: 24 bytes, enough to filter, sort and count.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub created: i64,
    pub updated: i64,
    pub status: OrderStatus,
    pub store: u8,
    pub market: u8,
    pub deleted: bool,
    /// How often the order changed since it was generated.
    pub version: u32,
}

pub(crate) struct World {
    pub generator: Generator,
    /// `index[number - 1]`.
    pub index: Vec<Entry>,
    /// Orders that changed (or were created) since generation.
    pub overrides: HashMap<i64, Order>,
    pub warehouses: Vec<Warehouse>,
    /// `stock[warehouse index][size id - 1]`.
    pub stock: Vec<Vec<StockLevel>>,
    pub purchase_orders: Vec<PurchaseOrder>,
    pub deliveries: Vec<Delivery>,
    pub control_rng: ChaCha8Rng,
    pub next_stock_change_id: i64,
    /// How many orders are deleted (lets unfiltered pages skip the scan).
    pub deleted: usize,
    /// `ProductSize.updatedAt` of sizes whose stock changed.
    pub size_updated_at: HashMap<i64, DateTime<Utc>>,
}

impl World {
    pub fn new(
        seed: u64,
        orders: u64,
        profile: Profile,
        products: usize,
        warehouses: usize,
        purchase_orders: usize,
    ) -> Self {
        let generator = Generator::new(seed, orders, profile, products);
        let index = (1..=orders as i64)
            .map(|n| {
                let h = generator.header(n);
                Entry {
                    created: h.created,
                    updated: h.updated,
                    status: h.status,
                    store: h.store,
                    market: h.market,
                    deleted: false,
                    version: 0,
                }
            })
            .collect();
        let warehouses = data::warehouses(warehouses);
        let stock = warehouses
            .iter()
            .map(|w| {
                generator
                    .catalog
                    .iter()
                    .flat_map(|p| p.variants.iter())
                    .flat_map(|v| v.sizes.iter())
                    .map(|s| data::stock_level(seed, w, s))
                    .collect()
            })
            .collect();
        let (pos, dels) =
            data::purchase_orders(seed, purchase_orders, &generator.catalog, &warehouses);
        let mut world = Self {
            generator,
            index,
            overrides: HashMap::new(),
            warehouses,
            stock,
            purchase_orders: pos,
            deliveries: dels,
            control_rng: data::rng_for(seed, data::D_CONTROL, 0),
            next_stock_change_id: 1,
            deleted: 0,
            size_updated_at: HashMap::new(),
        };
        // Goods on deliveries that are not yet accepted are "on delivery".
        let pending: Vec<(Option<i64>, i64, i64)> = world
            .deliveries
            .iter()
            .filter(|d| d.status == DeliveryStatus::Inserted)
            .flat_map(|d| d.lines.iter().map(move |l| (d.warehouse_id, l.size_id, l.quantity)))
            .collect();
        for (w, s, q) in pending {
            if let Some(level) = w.and_then(|w| world.stock_mut(w, s)) {
                level.on_delivery += q;
            }
        }
        world
    }

    pub fn entry(&self, number: i64) -> Option<&Entry> {
        self.index.get(usize::try_from(number - 1).ok()?)
    }

    /// The current order `number`, `None` when unknown or deleted.
    pub fn order(&self, number: i64) -> Option<Order> {
        let e = self.entry(number)?;
        if e.deleted {
            return None;
        }
        Some(match self.overrides.get(&number) {
            Some(o) => o.clone(),
            None => self.generator.order(number),
        })
    }

    pub fn max_number(&self) -> i64 {
        self.index.len() as i64
    }

    pub fn stock_mut(&mut self, warehouse_id: i64, size_id: i64) -> Option<&mut StockLevel> {
        let wi = self.warehouses.iter().position(|w| w.id == warehouse_id)?;
        self.stock[wi].get_mut(usize::try_from(size_id - 1).ok()?)
    }

    /// Stores a changed order and mirrors it into the index.
    pub fn put_order(&mut self, order: Order) {
        let n = order.number;
        if let Some(e) = self.index.get_mut((n - 1) as usize) {
            e.updated = order.updated_at.timestamp();
            e.status = order.status;
            e.version += 1;
        }
        self.overrides.insert(n, order);
    }

    /// Appends a new order created at `now`.
    pub fn create_order(&mut self, now: DateTime<Utc>, rng_draw: u64) -> Order {
        let number = self.max_number() + 1;
        // The header of a new order reuses generation with the creation time forced to now.
        let template =
            self.generator.header((rng_draw % self.index.len().max(1) as u64) as i64 + 1);
        let h = OrderHeader {
            created: now.timestamp(),
            updated: now.timestamp(),
            status: OrderStatus::Pending,
            store: template.store,
            market: template.market,
        };
        let mut rng = data::rng_for(self.generator.seed, 100, number as u64 ^ rng_draw);
        let order = self.generator.order_from(&mut rng, number, h);
        self.index.push(Entry {
            created: h.created,
            updated: h.updated,
            status: h.status,
            store: h.store,
            market: h.market,
            deleted: false,
            version: 0,
        });
        self.overrides.insert(number, order.clone());
        order
    }
}
