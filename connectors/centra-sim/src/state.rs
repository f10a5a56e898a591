//! The mutable world: a compact index over all orders, full copies of the
//! orders that changed, stock, purchase orders and deliveries.

use crate::SimConfig;
use crate::data::{self, Generator, OrderHeader, Profile};
use crate::dates::DateFilterReading;
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

/// Whether an order in this status holds stock (allocated or as demand).
pub(crate) fn holds_stock(status: OrderStatus) -> bool {
    matches!(status, OrderStatus::Pending | OrderStatus::Confirmed | OrderStatus::Processing)
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
    /// The id of the next delivery created (ids are never reused).
    pub next_delivery_id: i64,
    pub control_rng: ChaCha8Rng,
    /// The stock change ledger, by id ascending (ids are 1..).
    pub stock_changes: Vec<StockChange>,
    pub next_stock_change_line_id: i64,
    /// How many orders are deleted (lets unfiltered pages skip the scan).
    pub deleted: usize,
    /// What each unshipped order holds, by order number.
    pub allocations: HashMap<i64, Vec<Allocation>>,
    /// How `DateRange` filter bounds are read.
    pub date_filter: DateFilterReading,
}

impl World {
    pub fn new(config: &SimConfig) -> Self {
        let profile = Profile::parse(&config.profile).unwrap_or(Profile::Plain);
        let seed = config.seed;
        let orders = config.orders;
        let catalog = data::catalog_sized(seed, config.products, config.product_sizes);
        let generator = Generator::with_catalog(seed, orders, profile, catalog);
        let index: Vec<Entry> = (1..=orders as i64)
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
        let warehouses = data::warehouses(config.warehouses);
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
            data::purchase_orders(seed, config.purchase_orders, &generator.catalog, &warehouses);
        let mut world = Self {
            generator,
            index,
            overrides: HashMap::new(),
            warehouses,
            stock,
            purchase_orders: pos,
            next_delivery_id: dels.iter().map(|d| d.id).max().unwrap_or(0) + 1,
            deliveries: dels,
            control_rng: data::rng_for(seed, data::D_CONTROL, 0),
            stock_changes: Vec::new(),
            next_stock_change_line_id: 1,
            deleted: 0,
            allocations: HashMap::new(),
            date_filter: config.date_filter,
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
        // Orders that are not shipped yet hold stock (on top of the generated levels).
        let open: Vec<i64> = world
            .index
            .iter()
            .enumerate()
            .filter(|(_, e)| holds_stock(e.status))
            .map(|(i, _)| i as i64 + 1)
            .collect();
        for n in open {
            let o = world.generator.order(n);
            world.allocate_order(&o);
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

    /// The position of a warehouse in `warehouses` and `stock`.
    pub fn warehouse_index(&self, warehouse_id: i64) -> Option<usize> {
        // Warehouse ids are 1..=n in order; the search is a fallback.
        let i = usize::try_from(warehouse_id - 1).ok()?;
        if self.warehouses.get(i).is_some_and(|w| w.id == warehouse_id) {
            return Some(i);
        }
        self.warehouses.iter().position(|w| w.id == warehouse_id)
    }

    pub fn stock_mut(&mut self, warehouse_id: i64, size_id: i64) -> Option<&mut StockLevel> {
        let wi = self.warehouse_index(warehouse_id)?;
        self.stock[wi].get_mut(usize::try_from(size_id - 1).ok()?)
    }

    /// Allocates the lines of a new (or still open) order: each line in the
    /// first active warehouse whose free-to-allocate covers it, otherwise in
    /// the active warehouse with the most free stock, as far as it goes; the
    /// rest is demand there. Replaces what the order held before.
    pub fn allocate_order(&mut self, o: &Order) {
        self.release_order(o.number, false);
        let active: Vec<usize> = (0..self.warehouses.len())
            .filter(|&i| self.warehouses[i].status == WarehouseStatus::Active)
            .collect();
        let Some(&fallback) = active.first() else { return };
        let mut held = Vec::new();
        for l in o.lines.iter().filter(|l| l.quantity > 0) {
            let Ok(si) = usize::try_from(l.size_id - 1) else { continue };
            let fta = |wi: usize| self.stock[wi].get(si).map_or(0, StockLevel::free_to_allocate);
            let wi = active
                .iter()
                .copied()
                .find(|&wi| fta(wi) >= l.quantity)
                .or_else(|| active.iter().copied().max_by_key(|&wi| (fta(wi), -(wi as i64))))
                .unwrap_or(fallback);
            let Some(level) = self.stock[wi].get_mut(si) else { continue };
            let allocated = level.free_to_allocate().clamp(0, l.quantity);
            let demand = l.quantity - allocated;
            level.allocated += allocated;
            level.demand += demand;
            level.unshipped += l.quantity;
            held.push(Allocation {
                order_number: o.number,
                warehouse_id: level.warehouse_id,
                size_id: l.size_id,
                allocated,
                demand,
            });
        }
        if !held.is_empty() {
            self.allocations.insert(o.number, held);
        }
    }

    /// Gives back what order `number` holds. With `ship`, the allocated units
    /// leave the warehouse (physical and allocated go down); without, they
    /// become free again. Demand is dropped either way.
    pub fn release_order(&mut self, number: i64, ship: bool) {
        for a in self.allocations.remove(&number).unwrap_or_default() {
            if let Some(level) = self.stock_mut(a.warehouse_id, a.size_id) {
                level.allocated -= a.allocated;
                level.demand -= a.demand;
                level.unshipped -= a.allocated + a.demand;
                if ship {
                    level.physical -= a.allocated;
                }
            }
        }
    }

    /// Gives back `units` of size `size_id` held by order `number` (a
    /// cancelled unit): demand first, then allocation.
    pub fn release_units(&mut self, number: i64, size_id: i64, mut units: i64) {
        let Some(held) = self.allocations.get_mut(&number) else { return };
        let mut moves = Vec::new();
        for a in held.iter_mut().filter(|a| a.size_id == size_id) {
            let d = a.demand.min(units);
            a.demand -= d;
            units -= d;
            let al = a.allocated.min(units);
            a.allocated -= al;
            units -= al;
            moves.push((a.warehouse_id, d, al));
        }
        held.retain(|a| a.allocated + a.demand > 0);
        if held.is_empty() {
            self.allocations.remove(&number);
        }
        for (wid, d, al) in moves {
            if let Some(level) = self.stock_mut(wid, size_id) {
                level.demand -= d;
                level.allocated -= al;
                level.unshipped -= d + al;
            }
        }
    }

    /// Appends a stock change to the ledger and returns it.
    pub fn record_stock_change(
        &mut self,
        change_type: StockChangeType,
        warehouse_id: i64,
        moves: &[(i64, i64)],
        comment: Option<String>,
        now: DateTime<Utc>,
    ) -> StockChange {
        let lines = moves
            .iter()
            .map(|&(size_id, delivered_quantity)| {
                let id = self.next_stock_change_line_id;
                self.next_stock_change_line_id += 1;
                StockChangeLine { id, size_id, delivered_quantity }
            })
            .collect();
        let sc = StockChange {
            id: self.stock_changes.len() as i64 + 1,
            created_at: now,
            comment,
            change_type,
            warehouse_id,
            lines,
        };
        self.stock_changes.push(sc.clone());
        sc
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
