//! Changes over time: the operations behind the HTTP control API under
//! `/__sim/` and the churn task. Every change stamps `updatedAt` with the
//! simulated now and records events.

use crate::data::{self, shipping_parts};
use crate::error::SimError;
use crate::events::{ChangeType, ObjectType};
use crate::model::*;
use crate::{Simulator, write};
use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;

/// The control operations of a [`Simulator`].
#[derive(Clone, Debug)]
pub struct Control {
    pub(crate) sim: Simulator,
}

/// Which orders an order operation touches: explicit numbers, or `count`
/// orders chosen by the simulator's seeded control RNG.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OrderSelection {
    /// How many random orders (ignored when `numbers` is given). Default 1.
    #[serde(default)]
    pub count: Option<usize>,
    /// Exact order numbers.
    #[serde(default)]
    pub numbers: Option<Vec<i64>>,
}

/// `POST /__sim/orders/update`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrders {
    /// Which orders.
    #[serde(flatten)]
    pub select: OrderSelection,
    /// Force this status (GraphQL spelling) instead of a random change.
    #[serde(default)]
    pub status: Option<String>,
}

/// `POST /__sim/stock/change`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeStock {
    /// Warehouse (random active one when absent).
    #[serde(default)]
    pub warehouse_id: Option<i64>,
    /// Size (random when absent).
    #[serde(default)]
    pub size_id: Option<i64>,
    /// Change of the physical quantity (random −5..=+20 when absent).
    #[serde(default)]
    pub delta: Option<i64>,
    /// How many random changes (when warehouse/size are not both given). Default 1.
    #[serde(default)]
    pub count: Option<usize>,
}

/// `POST /__sim/deliveries/create` and `/__sim/deliveries/accept`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryRequest {
    /// For create: the purchase order (a random confirmed one when absent).
    #[serde(default)]
    pub purchase_order_id: Option<i64>,
    /// For accept: the delivery (the oldest `INSERTED` one when absent).
    #[serde(default)]
    pub delivery_id: Option<i64>,
}

/// `POST /__sim/purchase-orders/update`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UpdatePurchaseOrder {
    /// The purchase order (random when absent).
    #[serde(default)]
    pub id: Option<i64>,
    /// New status (GraphQL spelling); otherwise the ETA moves a week.
    #[serde(default)]
    pub status: Option<String>,
}

/// `POST /__sim/deliveries/remove`: deliveries deleted in Centra.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveDeliveries {
    /// Exact delivery ids.
    #[serde(default)]
    pub ids: Option<Vec<i64>>,
    /// How many deliveries, chosen by the control RNG, when `ids` is absent. Default 1.
    #[serde(default)]
    pub count: Option<usize>,
}

/// What the `Date` response header says (`POST /__sim/clock/date-header`
/// takes it as JSON: `{"mode":"normal"}`, `{"mode":"skewed","seconds":-90}`
/// or `{"mode":"absent"}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "mode", rename_all = "kebab-case", deny_unknown_fields)]
pub enum DateHeader {
    /// The simulated now (the default).
    #[default]
    Normal,
    /// The simulated now plus `seconds` (negative: behind); the data's
    /// timestamps are not skewed, only the header.
    Skewed {
        /// The skew in seconds.
        seconds: i64,
    },
    /// No `Date` header at all.
    Absent,
}

fn po_status(s: &str) -> Option<PurchaseOrderStatus> {
    [
        PurchaseOrderStatus::Draft,
        PurchaseOrderStatus::Confirmed,
        PurchaseOrderStatus::Completed,
        PurchaseOrderStatus::Cancelled,
    ]
    .into_iter()
    .find(|x| x.as_str() == s)
}

impl Control {
    /// Moves the simulated clock forward; returns the new now.
    pub fn advance_clock(&self, seconds: i64) -> DateTime<Utc> {
        self.sim.advance(seconds)
    }

    /// Sets what the `Date` response header says from now on.
    pub fn set_date_header(&self, setting: DateHeader) {
        *crate::lock(&self.sim.inner.date_header) = setting;
    }

    /// What the `Date` response header says now.
    pub fn date_header(&self) -> DateHeader {
        *crate::lock(&self.sim.inner.date_header)
    }

    fn pick_orders(
        &self,
        w: &mut crate::state::World,
        sel: &OrderSelection,
    ) -> Result<Vec<i64>, SimError> {
        if let Some(ns) = &sel.numbers {
            for &n in ns {
                if w.entry(n).is_none_or(|e| e.deleted) {
                    return Err(SimError::NotFound { kind: "order", id: n });
                }
            }
            return Ok(ns.clone());
        }
        let want = sel.count.unwrap_or(1);
        let max = w.max_number();
        let live = w.index.iter().filter(|e| !e.deleted).count();
        let mut out = Vec::with_capacity(want.min(live));
        let mut tries = 0;
        while out.len() < want.min(live) && tries < want * 50 + 100 {
            tries += 1;
            let n = w.control_rng.random_range(1..=max);
            if w.entry(n).is_some_and(|e| !e.deleted) && !out.contains(&n) {
                out.push(n);
            }
        }
        Ok(out)
    }

    fn record_order(&self, o: &Order, change: ChangeType) {
        self.sim.inner.events.record_in_market(
            ObjectType::Order,
            change,
            o.number,
            Some(o.store.id),
            Some(o.market_id),
            o.updated_at,
        );
        self.sim.inner.counters.orders_changed.fetch_add(1, Ordering::Relaxed);
    }

    /// Changes orders: a status step forward, a cancelled unit or a returned
    /// unit (random), or the given status. Returns the changed orders.
    pub fn update_orders(&self, req: &UpdateOrders) -> Result<Vec<Order>, SimError> {
        let forced = match &req.status {
            Some(s) => Some(
                OrderStatus::parse(s)
                    .ok_or_else(|| SimError::Invalid(format!("unknown order status {s}")))?,
            ),
            None => None,
        };
        let now = self.sim.now();
        let mut w = write(&self.sim.inner.world);
        let numbers = self.pick_orders(&mut w, &req.select)?;
        let mut changed = Vec::new();
        for n in numbers {
            let Some(mut o) = w.order(n) else { continue };
            let before = o.clone();
            let include = w.generator.market(o.market_id).is_some_and(|m| m.prices_include_tax);
            let (se, st) = shipping_parts(&o);
            let roll: u32 = w.control_rng.random_range(0..10);
            match forced {
                Some(s) => o.status = s,
                None => {
                    let next = match o.status {
                        OrderStatus::Pending => Some(OrderStatus::Confirmed),
                        OrderStatus::Confirmed => Some(OrderStatus::Processing),
                        OrderStatus::Processing => Some(OrderStatus::Shipped),
                        OrderStatus::Shipped => Some(OrderStatus::Archived),
                        _ => None,
                    };
                    let li = w.control_rng.random_range(0..o.lines.len().max(1));
                    match (roll, next) {
                        (0..6, Some(s)) => o.status = s,
                        _ => {
                            let shipped =
                                matches!(o.status, OrderStatus::Shipped | OrderStatus::Archived);
                            if let Some(l) = o.lines.get_mut(li) {
                                if shipped && l.quantity > l.returned_quantity {
                                    l.returned_quantity += 1;
                                } else if !shipped && l.quantity > 0 {
                                    l.quantity -= 1;
                                    l.cancelled_quantity += 1;
                                } else {
                                    o.is_on_hold = !o.is_on_hold;
                                }
                            }
                        }
                    }
                }
            }
            if o.status == OrderStatus::Cancelled {
                for l in &mut o.lines {
                    l.cancelled_quantity += l.quantity;
                    l.quantity = 0;
                    l.returned_quantity = 0;
                }
            }
            data::recompute_totals(&mut o, se, st, include);
            o.updated_at = now;
            move_stock(&mut w, &before, &o);
            w.put_order(o.clone());
            let change = if o.status == OrderStatus::Shipped {
                ChangeType::Completed
            } else {
                ChangeType::Updated
            };
            self.record_order(&o, change);
            changed.push(o);
        }
        Ok(changed)
    }

    /// Creates `count` new orders at the simulated now.
    pub fn create_orders(&self, count: usize) -> Vec<Order> {
        let now = self.sim.now();
        let mut w = write(&self.sim.inner.world);
        (0..count)
            .map(|_| {
                let draw = w.control_rng.random::<u64>();
                let o = w.create_order(now, draw);
                w.allocate_order(&o);
                self.record_order(&o, ChangeType::Created);
                o
            })
            .collect()
    }

    /// Cancels orders (every unit cancelled, status `CANCELLED`).
    pub fn cancel_orders(&self, sel: &OrderSelection) -> Result<Vec<Order>, SimError> {
        self.update_orders(&UpdateOrders { select: sel.clone(), status: Some("CANCELLED".into()) })
    }

    /// Deletes orders: they vanish from every query; a `DELETED` event is queued.
    pub fn delete_orders(&self, sel: &OrderSelection) -> Result<Vec<i64>, SimError> {
        let now = self.sim.now();
        let mut w = write(&self.sim.inner.world);
        let numbers = self.pick_orders(&mut w, sel)?;
        for &n in &numbers {
            let store = w.entry(n).map(|e| i64::from(e.store));
            let market = w.entry(n).map(|e| i64::from(e.market));
            let was_deleted = w.entry(n).is_some_and(|e| e.deleted);
            if !was_deleted {
                w.deleted += 1;
            }
            if let Some(e) = w.index.get_mut((n - 1) as usize) {
                e.deleted = true;
                e.updated = now.timestamp();
                e.version += 1;
            }
            w.overrides.remove(&n);
            // A deleted order no longer holds stock.
            w.release_order(n, false);
            self.sim.inner.events.record_in_market(
                ObjectType::Order,
                ChangeType::Deleted,
                n,
                store,
                market,
                now,
            );
            self.sim.inner.counters.orders_changed.fetch_add(1, Ordering::Relaxed);
        }
        Ok(numbers)
    }

    /// Changes physical stock (allocated stays, so free-to-allocate moves too).
    pub fn change_stock(&self, req: &ChangeStock) -> Result<Vec<StockLevel>, SimError> {
        let now = self.sim.now();
        let mut w = write(&self.sim.inner.world);
        let n = if req.warehouse_id.is_some() && req.size_id.is_some() {
            1
        } else {
            req.count.unwrap_or(1)
        };
        let mut out = Vec::new();
        for _ in 0..n {
            let wid = match req.warehouse_id {
                Some(x) => x,
                None => {
                    let active: Vec<i64> = w
                        .warehouses
                        .iter()
                        .filter(|x| x.status == WarehouseStatus::Active)
                        .map(|x| x.id)
                        .collect();
                    active[w
                        .control_rng
                        .random_range(0..active.len().max(1))
                        .min(active.len().saturating_sub(1))]
                }
            };
            let sid = match req.size_id {
                Some(x) => x,
                None => {
                    let n = w.generator.sizes.len() as i64;
                    w.control_rng.random_range(1..=n)
                }
            };
            let delta = match req.delta {
                Some(d) => d,
                None => w.control_rng.random_range(-5..=20),
            };
            let level = w.stock_mut(wid, sid).ok_or(SimError::NotFound {
                kind: "stock of warehouse/size",
                id: wid * 1_000_000 + sid,
            })?;
            // Physical stock never drops below what orders have allocated.
            let physical = (level.physical + delta).max(level.allocated);
            let applied = physical - level.physical;
            level.physical = physical;
            let level = level.clone();
            if applied != 0 {
                let sc = w.record_stock_change(
                    StockChangeType::Manual,
                    wid,
                    &[(sid, applied)],
                    Some("manual change".into()),
                    now,
                );
                self.sim.inner.events.record(
                    ObjectType::StockChange,
                    ChangeType::Created,
                    sc.id,
                    None,
                    now,
                );
            }
            out.push(level);
        }
        Ok(out)
    }

    /// Creates a delivery (`INSERTED`) of the remaining units of a confirmed purchase order.
    pub fn create_delivery(&self, req: &DeliveryRequest) -> Result<Delivery, SimError> {
        let now = self.sim.now();
        let mut w = write(&self.sim.inner.world);
        let po_idx = match req.purchase_order_id {
            Some(id) => w
                .purchase_orders
                .iter()
                .position(|p| p.id == id)
                .ok_or(SimError::NotFound { kind: "purchase order", id })?,
            None => {
                let open: Vec<usize> = w
                    .purchase_orders
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.status == PurchaseOrderStatus::Confirmed)
                    .map(|(i, _)| i)
                    .collect();
                if open.is_empty() {
                    return Err(SimError::Invalid("no confirmed purchase order to deliver".into()));
                }
                open[w.control_rng.random_range(0..open.len())]
            }
        };
        let po = w.purchase_orders[po_idx].clone();
        let k = w.deliveries.iter().filter(|d| d.purchase_order_id == po.id).count() + 1;
        let id = w.next_delivery_id;
        w.next_delivery_id += 1;
        let mut rng = data::rng_for(w.generator.seed, 200, id as u64);
        let d =
            data::make_delivery(&mut rng, id, &po, 1, 2, DeliveryStatus::Inserted, now.timestamp());
        let d = Delivery { number: format!("{}-{}", po.id, k), ..d };
        for l in &d.lines {
            if let Some(level) = d.warehouse_id.and_then(|wid| w.stock_mut(wid, l.size_id)) {
                level.on_delivery += l.quantity;
            }
        }
        w.purchase_orders[po_idx].updated_at = now;
        w.deliveries.push(d.clone());
        let ev = &self.sim.inner.events;
        ev.record(ObjectType::PurchaseOrderDelivery, ChangeType::Created, d.id, None, now);
        ev.record(ObjectType::PurchaseOrder, ChangeType::Updated, po.id, None, now);
        Ok(d)
    }

    /// Accepts an `INSERTED` delivery: its units become physical stock.
    pub fn accept_delivery(&self, req: &DeliveryRequest) -> Result<Delivery, SimError> {
        let now = self.sim.now();
        let mut w = write(&self.sim.inner.world);
        let idx = match req.delivery_id {
            Some(id) => w
                .deliveries
                .iter()
                .position(|d| d.id == id)
                .ok_or(SimError::NotFound { kind: "delivery", id })?,
            None => w
                .deliveries
                .iter()
                .position(|d| d.status == DeliveryStatus::Inserted)
                .ok_or_else(|| SimError::Invalid("no inserted delivery to accept".into()))?,
        };
        if w.deliveries[idx].status != DeliveryStatus::Inserted {
            return Err(SimError::Invalid(format!(
                "delivery {} is {}, not INSERTED",
                w.deliveries[idx].id,
                w.deliveries[idx].status.as_str()
            )));
        }
        w.deliveries[idx].status = DeliveryStatus::Accepted;
        let d = w.deliveries[idx].clone();
        for l in &d.lines {
            if let Some(level) = d.warehouse_id.and_then(|wid| w.stock_mut(wid, l.size_id)) {
                level.on_delivery = (level.on_delivery - l.quantity).max(0);
                level.physical += l.quantity;
                level.unlinked_incoming = (level.unlinked_incoming - l.unlinked_quantity).max(0);
                level.linked_incoming = (level.linked_incoming - l.linked_quantity).max(0);
            }
        }
        if let Some(po) = w.purchase_orders.iter_mut().find(|p| p.id == d.purchase_order_id) {
            po.updated_at = now;
        }
        let sc = d.warehouse_id.map(|wid| {
            let moves: Vec<(i64, i64)> = d.lines.iter().map(|l| (l.size_id, l.quantity)).collect();
            w.record_stock_change(
                StockChangeType::Delivery,
                wid,
                &moves,
                Some(format!("delivery {}", d.number)),
                now,
            )
        });
        let ev = &self.sim.inner.events;
        ev.record(ObjectType::PurchaseOrderDelivery, ChangeType::Completed, d.id, None, now);
        ev.record(ObjectType::PurchaseOrder, ChangeType::Updated, d.purchase_order_id, None, now);
        if let Some(sc) = sc {
            ev.record(ObjectType::StockChange, ChangeType::Created, sc.id, None, now);
        }
        Ok(d)
    }

    /// Removes deliveries, as deleting them in Centra does: they vanish from
    /// every query and the truth; the units of an `INSERTED` one are no longer
    /// on delivery. Queues `PurchaseOrderDelivery DELETED`. Returns the ids.
    pub fn remove_deliveries(&self, req: &RemoveDeliveries) -> Result<Vec<i64>, SimError> {
        let now = self.sim.now();
        let mut w = write(&self.sim.inner.world);
        let ids = match &req.ids {
            Some(ids) => {
                for &id in ids {
                    if !w.deliveries.iter().any(|d| d.id == id) {
                        return Err(SimError::NotFound { kind: "delivery", id });
                    }
                }
                ids.clone()
            }
            None => {
                let mut ids = Vec::new();
                for _ in 0..req.count.unwrap_or(1).min(w.deliveries.len()) {
                    let left: Vec<i64> =
                        w.deliveries.iter().map(|d| d.id).filter(|id| !ids.contains(id)).collect();
                    let pick = w.control_rng.random_range(0..left.len());
                    ids.push(left[pick]);
                }
                ids
            }
        };
        for &id in &ids {
            let Some(at) = w.deliveries.iter().position(|d| d.id == id) else { continue };
            let d = w.deliveries.remove(at);
            if d.status == DeliveryStatus::Inserted {
                for l in &d.lines {
                    if let Some(level) = d.warehouse_id.and_then(|wid| w.stock_mut(wid, l.size_id))
                    {
                        level.on_delivery = (level.on_delivery - l.quantity).max(0);
                    }
                }
            }
            if let Some(po) = w.purchase_orders.iter_mut().find(|p| p.id == d.purchase_order_id) {
                po.updated_at = now;
            }
            let ev = &self.sim.inner.events;
            ev.record(ObjectType::PurchaseOrderDelivery, ChangeType::Deleted, id, None, now);
            ev.record(
                ObjectType::PurchaseOrder,
                ChangeType::Updated,
                d.purchase_order_id,
                None,
                now,
            );
        }
        Ok(ids)
    }

    /// Updates a purchase order: the given status, or its ETA a week later.
    pub fn update_purchase_order(
        &self,
        req: &UpdatePurchaseOrder,
    ) -> Result<PurchaseOrder, SimError> {
        let now = self.sim.now();
        let status =
            match &req.status {
                Some(s) => Some(po_status(s).ok_or_else(|| {
                    SimError::Invalid(format!("unknown purchase order status {s}"))
                })?),
                None => None,
            };
        let mut w = write(&self.sim.inner.world);
        if w.purchase_orders.is_empty() {
            return Err(SimError::Invalid("there are no purchase orders".into()));
        }
        let idx = match req.id {
            Some(id) => w
                .purchase_orders
                .iter()
                .position(|p| p.id == id)
                .ok_or(SimError::NotFound { kind: "purchase order", id })?,
            None => {
                let n = w.purchase_orders.len();
                w.control_rng.random_range(0..n)
            }
        };
        let po = &mut w.purchase_orders[idx];
        match status {
            Some(s) => po.status = s,
            None => po.eta = po.eta.map(|e| e + chrono::Duration::days(7)),
        }
        po.updated_at = now;
        let po = po.clone();
        let change = if po.status == PurchaseOrderStatus::Completed {
            ChangeType::Completed
        } else {
            ChangeType::Updated
        };
        self.sim.inner.events.record(ObjectType::PurchaseOrder, change, po.id, None, now);
        Ok(po)
    }

    /// One churn step: mostly updates, some creates and cancels, deletes only
    /// when `allow_delete`.
    pub fn churn_step(&self, allow_delete: bool) {
        let roll: u32 = write(&self.sim.inner.world).control_rng.random_range(0..100);
        let one = OrderSelection { count: Some(1), numbers: None };
        // Errors here mean "nothing to change", which churn can ignore.
        let _ = match roll {
            0..70 => self.update_orders(&UpdateOrders { select: one, status: None }).map(|_| ()),
            70..85 => {
                self.create_orders(1);
                Ok(())
            }
            85..95 => self.cancel_orders(&one).map(|_| ()),
            _ if allow_delete => self.delete_orders(&one).map(|_| ()),
            _ => self.update_orders(&UpdateOrders { select: one, status: None }).map(|_| ()),
        };
    }
}

/// Moves stock for an order change from `before` to `after`: units
/// cancelled on a line are released; leaving the open statuses ships
/// (`SHIPPED`, `ARCHIVED`) or releases (`CANCELLED`) what the order held.
fn move_stock(w: &mut crate::state::World, before: &Order, after: &Order) {
    let was_open = crate::state::holds_stock(before.status);
    let is_open = crate::state::holds_stock(after.status);
    if was_open && is_open {
        for (b, a) in before.lines.iter().zip(&after.lines) {
            if a.quantity < b.quantity {
                w.release_units(after.number, a.size_id, b.quantity - a.quantity);
            }
        }
    } else if was_open {
        let ship = matches!(after.status, OrderStatus::Shipped | OrderStatus::Archived);
        w.release_order(after.number, ship);
    } else if is_open {
        // A closed order forced back open holds its lines again.
        w.allocate_order(after);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SimConfig, Simulator};

    fn sim() -> Simulator {
        Simulator::new(SimConfig { orders: 40, ..SimConfig::default() })
    }

    #[test]
    fn changes_stamp_the_simulated_now_and_keep_totals_consistent() {
        let s = sim();
        let c = s.control();
        let now = c.advance_clock(7200);
        let changed = c
            .update_orders(&UpdateOrders {
                select: OrderSelection { count: Some(10), numbers: None },
                status: None,
            })
            .expect("update");
        assert_eq!(changed.len(), 10);
        for o in &changed {
            assert!(o.updated_at >= now);
            assert_eq!(s.order(o.number).as_ref(), Some(o));
            let items: i64 = o.lines.iter().map(|l| l.line_value_incl_tax()).sum();
            assert_eq!(o.totals.line_values, items);
        }
        let created = c.create_orders(2);
        assert_eq!(created.iter().map(|o| o.number).collect::<Vec<_>>(), vec![41, 42]);
        assert_eq!(created[0].status, OrderStatus::Pending);
        let deleted = c
            .delete_orders(&OrderSelection { count: None, numbers: Some(vec![5]) })
            .expect("delete");
        assert_eq!(deleted, vec![5]);
        assert!(s.order(5).is_none());
        assert_eq!(
            c.delete_orders(&OrderSelection { count: None, numbers: Some(vec![5]) }),
            Err(SimError::NotFound { kind: "order", id: 5 })
        );
        assert_eq!(s.orders().count(), 41);
        assert_eq!(s.stats().orders_changed, 13);
    }

    #[test]
    fn accepting_a_delivery_moves_units_into_physical_stock() {
        let s = sim();
        let c = s.control();
        let po = s
            .purchase_orders()
            .into_iter()
            .find(|p| {
                p.status == PurchaseOrderStatus::Confirmed && p.preferred_warehouse_id.is_some()
            })
            .expect("a confirmed purchase order with a warehouse");
        let d = c
            .create_delivery(&DeliveryRequest { purchase_order_id: Some(po.id), delivery_id: None })
            .expect("create");
        assert_eq!(d.warehouse_id, po.preferred_warehouse_id);
        assert_eq!(d.status, DeliveryStatus::Inserted);
        let before: i64 = s
            .stock()
            .iter()
            .filter(|l| Some(l.warehouse_id) == d.warehouse_id)
            .map(|l| l.physical)
            .sum();
        let a = c
            .accept_delivery(&DeliveryRequest { purchase_order_id: None, delivery_id: Some(d.id) })
            .expect("accept");
        assert_eq!(a.status, DeliveryStatus::Accepted);
        let after: i64 = s
            .stock()
            .iter()
            .filter(|l| Some(l.warehouse_id) == d.warehouse_id)
            .map(|l| l.physical)
            .sum();
        assert_eq!(after - before, d.lines.iter().map(|l| l.quantity).sum::<i64>());
        // The movement is in the ledger, not on the product size.
        let changes = s.stock_changes();
        let sc = changes.last().expect("a stock change");
        assert_eq!(sc.change_type, StockChangeType::Delivery);
        assert_eq!(Some(sc.warehouse_id), d.warehouse_id);
        assert_eq!(
            sc.lines.iter().map(|l| (l.size_id, l.delivered_quantity)).collect::<Vec<_>>(),
            d.lines.iter().map(|l| (l.size_id, l.quantity)).collect::<Vec<_>>()
        );
        let size = d.lines[0].size_id;
        let generated = crate::data::catalog(1, 60)
            .into_iter()
            .flat_map(|p| p.variants)
            .flat_map(|v| v.sizes)
            .find(|x| x.id == size)
            .expect("the size exists");
        let served = s
            .products()
            .into_iter()
            .flat_map(|p| p.variants)
            .flat_map(|v| v.sizes)
            .find(|x| x.id == size)
            .expect("the size exists");
        assert_eq!(served.updated_at, generated.updated_at, "updatedAt not bumped");
        assert!(
            c.accept_delivery(&DeliveryRequest {
                purchase_order_id: None,
                delivery_id: Some(d.id)
            })
            .is_err()
        );
    }
}

#[cfg(test)]
mod stock_tests {
    use super::*;
    use crate::events::{ChangeType, ObjectType};
    use crate::{SimConfig, Simulator};

    fn level(s: &Simulator, wid: i64, sid: i64) -> StockLevel {
        s.stock()
            .into_iter()
            .find(|l| l.warehouse_id == wid && l.size_id == sid)
            .expect("a stock row")
    }

    /// The allocations recorded for order `n`, summed per (warehouse, size).
    fn held(s: &Simulator, n: i64) -> Vec<Allocation> {
        s.allocations().into_iter().filter(|a| a.order_number == n).collect()
    }

    #[test]
    fn orders_allocate_ship_and_release_stock_without_ledger_rows() {
        let s = Simulator::new(SimConfig { orders: 40, ..SimConfig::default() });
        let c = s.control();
        s.events().set_listeners(
            "t",
            vec![(ObjectType::ProductSize, None), (ObjectType::StockChange, None)],
        );
        let ledger = s.stock_changes().len();
        let o = c.create_orders(1).remove(0);
        let holds = held(&s, o.number);
        assert_eq!(
            holds.iter().map(|a| a.allocated + a.demand).sum::<i64>(),
            o.lines.iter().map(|l| l.quantity).sum::<i64>()
        );
        let a = &holds[0];
        let before = level(&s, a.warehouse_id, a.size_id);
        // Shipping removes the allocated units from the shelf.
        c.update_orders(&UpdateOrders {
            select: OrderSelection { count: None, numbers: Some(vec![o.number]) },
            status: Some("SHIPPED".into()),
        })
        .expect("ship");
        let after = level(&s, a.warehouse_id, a.size_id);
        let same_size: i64 = holds
            .iter()
            .filter(|x| x.warehouse_id == a.warehouse_id && x.size_id == a.size_id)
            .map(|x| x.allocated)
            .sum();
        assert_eq!(after.physical, before.physical - same_size);
        assert_eq!(after.allocated, before.allocated - same_size);
        assert_eq!(after.free_to_allocate(), before.free_to_allocate());
        assert!(held(&s, o.number).is_empty());
        // Cancelling releases: free to allocate comes back.
        let o2 = c.create_orders(1).remove(0);
        let a2 = held(&s, o2.number)[0].clone();
        let mid = level(&s, a2.warehouse_id, a2.size_id);
        c.cancel_orders(&OrderSelection { count: None, numbers: Some(vec![o2.number]) })
            .expect("cancel");
        let end = level(&s, a2.warehouse_id, a2.size_id);
        assert_eq!(end.physical, mid.physical);
        assert!(end.allocated <= mid.allocated - a2.allocated);
        assert!(end.free_to_allocate() >= mid.free_to_allocate() + a2.allocated);
        // Neither allocation nor shipment is in the ledger or bumps a size.
        assert_eq!(s.stock_changes().len(), ledger);
        assert!(s.events().pending("t", None, None, None, 100).is_empty());
        for l in s.stock() {
            assert!(l.allocated >= 0 && l.demand >= 0 && l.free_to_allocate() >= 0, "{l:?}");
            assert_eq!(l.unshipped, l.allocated + l.demand, "{l:?}");
        }
    }

    #[test]
    fn a_manual_change_is_a_ledger_row_and_a_stock_change_event_only() {
        let s = Simulator::new(SimConfig { orders: 10, ..SimConfig::default() });
        s.events().set_listeners(
            "t",
            vec![(ObjectType::ProductSize, None), (ObjectType::StockChange, None)],
        );
        let got = s
            .control()
            .change_stock(&ChangeStock {
                warehouse_id: Some(2),
                size_id: Some(5),
                delta: Some(7),
                count: None,
            })
            .expect("change");
        assert_eq!(got[0], level(&s, 2, 5));
        let sc = s.stock_changes().pop().expect("a ledger row");
        assert_eq!(sc.change_type, StockChangeType::Manual);
        assert_eq!(
            (sc.warehouse_id, sc.lines[0].size_id, sc.lines[0].delivered_quantity),
            (2, 5, 7)
        );
        let ev = s.events().pending("t", None, None, None, 10);
        assert_eq!(ev.len(), 1);
        assert_eq!(
            (ev[0].object_type, ev[0].change_type, ev[0].object_reference),
            (ObjectType::StockChange, ChangeType::Created, sc.id)
        );
    }

    #[test]
    fn removed_deliveries_leave_the_truth_and_their_units_leave_on_delivery() {
        let s = Simulator::new(SimConfig { orders: 10, ..SimConfig::default() });
        let c = s.control();
        let po = s
            .purchase_orders()
            .into_iter()
            .find(|p| {
                p.status == PurchaseOrderStatus::Confirmed && p.preferred_warehouse_id.is_some()
            })
            .expect("a confirmed purchase order");
        let d = c
            .create_delivery(&DeliveryRequest { purchase_order_id: Some(po.id), delivery_id: None })
            .expect("create");
        let wid = d.warehouse_id.expect("a warehouse");
        let sid = d.lines[0].size_id;
        let on = level(&s, wid, sid).on_delivery;
        let n = s.deliveries().len();
        assert_eq!(
            c.remove_deliveries(&RemoveDeliveries { ids: Some(vec![d.id]), count: None }),
            Ok(vec![d.id])
        );
        assert_eq!(s.deliveries().len(), n - 1);
        assert!(s.deliveries().iter().all(|x| x.id != d.id));
        let qty: i64 = d.lines.iter().filter(|l| l.size_id == sid).map(|l| l.quantity).sum();
        assert_eq!(level(&s, wid, sid).on_delivery, on - qty);
        assert_eq!(
            c.remove_deliveries(&RemoveDeliveries { ids: Some(vec![d.id]), count: None }),
            Err(SimError::NotFound { kind: "delivery", id: d.id })
        );
        // Ids are never reused.
        let d2 = c
            .create_delivery(&DeliveryRequest { purchase_order_id: Some(po.id), delivery_id: None })
            .expect("create");
        assert!(d2.id > d.id);
    }
}
