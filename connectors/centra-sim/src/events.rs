//! Centra's Events API: listeners and one queue of unconfirmed events per integration name.
//!
//! Semantics (Centra's, see the events system docs):
//! - Every token carries an integration name; all tokens with the same name
//!   share one queue and one set of listeners.
//! - `setEventListeners` is additive and idempotent: it adds change types to
//!   an object type's listener; omitting `changeTypes` (or sending an empty
//!   list) subscribes to all five.
//! - When the simulator records an event it gets the next global id (ids
//!   increase by one per recorded event that at least one queue takes) and is
//!   queued, with that same id, for every integration whose listeners match
//!   its object type and change type at that moment. Listening later does not
//!   deliver older events.
//! - `events` returns the oldest unconfirmed events first (ascending id),
//!   filtered, at most `limit`; reading does not remove them.
//! - `confirmEvents` removes events from the integration's queue; ids that are
//!   not in the queue are reported as user errors, the others are still removed.
//! - `unsetEventListeners` takes `{objectType, changeTypes?}` objects: it
//!   removes those change types (all when none are given) from the object
//!   type's listener, drops a listener left with none, and deletes the queued
//!   events of those object and change types.
//! - Listeners carry `createdAt` (first set) and `updatedAt` (last change).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};

/// The object types the simulator emits events for (`EventObjectType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectType {
    /// `Order`; `objectReference` is the order number.
    Order,
    /// `PurchaseOrder`.
    PurchaseOrder,
    /// `PurchaseOrderDelivery`.
    PurchaseOrderDelivery,
    /// `ProductSize`.
    ProductSize,
    /// `StockChange`.
    StockChange,
    /// `Warehouse`.
    Warehouse,
}

impl ObjectType {
    /// Every object type, in the order of the schema's enum.
    pub const ALL: [ObjectType; 6] = [
        ObjectType::Order,
        ObjectType::PurchaseOrder,
        ObjectType::PurchaseOrderDelivery,
        ObjectType::ProductSize,
        ObjectType::StockChange,
        ObjectType::Warehouse,
    ];

    /// The GraphQL enum value, e.g. `PurchaseOrderDelivery`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ObjectType::Order => "Order",
            ObjectType::PurchaseOrder => "PurchaseOrder",
            ObjectType::PurchaseOrderDelivery => "PurchaseOrderDelivery",
            ObjectType::ProductSize => "ProductSize",
            ObjectType::StockChange => "StockChange",
            ObjectType::Warehouse => "Warehouse",
        }
    }
}

impl fmt::Display for ObjectType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ObjectType {
    type Err = UnknownEnumValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ObjectType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownEnumValue { enum_name: "EventObjectType", value: s.to_string() })
    }
}

/// What happened to the object (`EventChangeType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChangeType {
    /// `CREATED`.
    Created,
    /// `UPDATED`.
    Updated,
    /// `COMPLETED`: an order, purchase order or delivery reached its final state.
    Completed,
    /// `DELETED`: `object` is null from now on.
    Deleted,
    /// `DEPENDENT_DATA_CHANGED`: related data changed.
    DependentDataChanged,
}

impl ChangeType {
    /// Every change type, in the order of the schema's enum.
    pub const ALL: [ChangeType; 5] = [
        ChangeType::Created,
        ChangeType::Updated,
        ChangeType::Completed,
        ChangeType::Deleted,
        ChangeType::DependentDataChanged,
    ];

    /// The GraphQL enum value, e.g. `DEPENDENT_DATA_CHANGED`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ChangeType::Created => "CREATED",
            ChangeType::Updated => "UPDATED",
            ChangeType::Completed => "COMPLETED",
            ChangeType::Deleted => "DELETED",
            ChangeType::DependentDataChanged => "DEPENDENT_DATA_CHANGED",
        }
    }
}

impl fmt::Display for ChangeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChangeType {
    type Err = UnknownEnumValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ChangeType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownEnumValue { enum_name: "EventChangeType", value: s.to_string() })
    }
}

/// A string that is not a value of an event enum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {enum_name} value {value:?}")]
pub struct UnknownEnumValue {
    enum_name: &'static str,
    value: String,
}

/// One queued event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Global, increasing id; the same in every queue the event went to.
    pub id: i64,
    /// What kind of object changed.
    pub object_type: ObjectType,
    /// What happened to it.
    pub change_type: ChangeType,
    /// The object's id; for an order, its number.
    pub object_reference: i64,
    /// The store of the object, when it has one.
    pub store_id: Option<i64>,
    /// The market of the object, when it has one (orders).
    pub market_id: Option<i64>,
    /// When it happened, in simulated time.
    pub created_at: DateTime<Utc>,
}

/// One object type an integration listens to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// The integration name.
    pub integration: String,
    /// The object type listened to.
    pub object_type: ObjectType,
    /// The change types listened to, in enum order; never empty.
    pub change_types: Vec<ChangeType>,
    /// When the listener was first set.
    pub created_at: DateTime<Utc>,
    /// When its change types last changed.
    pub updated_at: DateTime<Utc>,
}

/// The listeners and queued events of one integration name.
#[derive(Debug, Default)]
struct Queue {
    listeners: BTreeMap<ObjectType, BTreeSet<ChangeType>>,
    /// (createdAt, updatedAt) of each listener.
    times: BTreeMap<ObjectType, (DateTime<Utc>, DateTime<Utc>)>,
    events: BTreeMap<i64, Event>,
}

impl Queue {
    fn listens(&self, object_type: ObjectType, change_type: ChangeType) -> bool {
        self.listeners.get(&object_type).is_some_and(|c| c.contains(&change_type))
    }

    fn listener_rows(&self, integration: &str) -> Vec<Listener> {
        self.listeners
            .iter()
            .map(|(object_type, changes)| {
                let (created_at, updated_at) =
                    self.times.get(object_type).copied().unwrap_or_default();
                Listener {
                    integration: integration.to_string(),
                    object_type: *object_type,
                    change_types: changes.iter().copied().collect(),
                    created_at,
                    updated_at,
                }
            })
            .collect()
    }
}

#[derive(Debug, Default)]
struct Inner {
    last_id: i64,
    queues: HashMap<String, Queue>,
}

/// All integrations' listeners and event queues. Thread-safe; cheap to share in an `Arc`.
#[derive(Debug, Default)]
pub struct EventStore {
    inner: Mutex<Inner>,
}

impl EventStore {
    /// An empty store: no listeners, no events.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the maps consistent (every
        // mutation is a single insert or remove), so a poisoned lock is usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a change and queues it for every integration listening to it.
    /// Returns nothing; an event no integration listens to is dropped.
    pub fn record(
        &self,
        object_type: ObjectType,
        change_type: ChangeType,
        object_reference: i64,
        store_id: Option<i64>,
        created_at: DateTime<Utc>,
    ) {
        self.record_in_market(
            object_type,
            change_type,
            object_reference,
            store_id,
            None,
            created_at,
        )
    }

    /// Like [`EventStore::record`], for an object that also has a market.
    pub fn record_in_market(
        &self,
        object_type: ObjectType,
        change_type: ChangeType,
        object_reference: i64,
        store_id: Option<i64>,
        market_id: Option<i64>,
        created_at: DateTime<Utc>,
    ) {
        let mut inner = self.lock();
        if !inner.queues.values().any(|q| q.listens(object_type, change_type)) {
            return;
        }
        inner.last_id += 1;
        let event = Event {
            id: inner.last_id,
            object_type,
            change_type,
            object_reference,
            store_id,
            market_id,
            created_at,
        };
        for queue in inner.queues.values_mut().filter(|q| q.listens(object_type, change_type)) {
            queue.events.insert(event.id, event.clone());
        }
    }

    /// Adds listeners (`None` or an empty list = all change types) and
    /// returns all listeners of the integration afterwards. Listener times
    /// are the Unix epoch; the API uses [`EventStore::set_listeners_at`].
    pub fn set_listeners(
        &self,
        integration: &str,
        listeners: Vec<(ObjectType, Option<Vec<ChangeType>>)>,
    ) -> Vec<Listener> {
        self.set_listeners_at(integration, listeners, DateTime::UNIX_EPOCH)
    }

    /// [`EventStore::set_listeners`] at `now`: a new listener is created at
    /// `now`, one that gains change types is updated at `now`.
    pub fn set_listeners_at(
        &self,
        integration: &str,
        listeners: Vec<(ObjectType, Option<Vec<ChangeType>>)>,
        now: DateTime<Utc>,
    ) -> Vec<Listener> {
        let mut inner = self.lock();
        let queue = inner.queues.entry(integration.to_string()).or_default();
        for (object_type, changes) in listeners {
            let changes = match changes {
                Some(list) if !list.is_empty() => list,
                _ => ChangeType::ALL.to_vec(),
            };
            let set = queue.listeners.entry(object_type).or_default();
            let before = set.len();
            set.extend(changes);
            let grew = set.len() != before;
            let times = queue.times.entry(object_type).or_insert((now, now));
            if grew {
                times.1 = now;
            }
        }
        queue.listener_rows(integration)
    }

    /// Removes the listeners of `types` and deletes the queued events of
    /// those types; returns the listeners that remain.
    pub fn unset_listeners(&self, integration: &str, types: Vec<ObjectType>) -> Vec<Listener> {
        let input = types.into_iter().map(|t| (t, None)).collect();
        self.unset_listeners_at(integration, input, DateTime::UNIX_EPOCH)
    }

    /// `unsetEventListeners`: for each object type, removes the given change
    /// types (all when `None` or empty) from its listener, drops a listener
    /// left without change types, and deletes the queued events of exactly
    /// those object and change types. Returns the listeners that remain.
    pub fn unset_listeners_at(
        &self,
        integration: &str,
        input: Vec<(ObjectType, Option<Vec<ChangeType>>)>,
        now: DateTime<Utc>,
    ) -> Vec<Listener> {
        let mut inner = self.lock();
        let Some(queue) = inner.queues.get_mut(integration) else {
            return Vec::new();
        };
        for (object_type, changes) in input {
            let changes = match changes {
                Some(list) if !list.is_empty() => list,
                _ => ChangeType::ALL.to_vec(),
            };
            if let Some(set) = queue.listeners.get_mut(&object_type) {
                let before = set.len();
                set.retain(|c| !changes.contains(c));
                if set.is_empty() {
                    queue.listeners.remove(&object_type);
                    queue.times.remove(&object_type);
                } else if set.len() != before
                    && let Some(t) = queue.times.get_mut(&object_type)
                {
                    t.1 = now;
                }
            }
            queue
                .events
                .retain(|_, e| e.object_type != object_type || !changes.contains(&e.change_type));
        }
        queue.listener_rows(integration)
    }

    /// The integration's listeners, by object type.
    pub fn listeners(&self, integration: &str) -> Vec<Listener> {
        self.lock()
            .queues
            .get(integration)
            .map(|q| q.listener_rows(integration))
            .unwrap_or_default()
    }

    /// Up to `limit` unconfirmed events of the integration, oldest (lowest id)
    /// first, that match every given filter (`None` = no filter; an event
    /// without a store never matches a `store_ids` filter). Does not remove them.
    pub fn pending(
        &self,
        integration: &str,
        object_types: Option<&[ObjectType]>,
        change_types: Option<&[ChangeType]>,
        store_ids: Option<&[i64]>,
        limit: usize,
    ) -> Vec<Event> {
        self.pending_in_markets(integration, object_types, change_types, store_ids, None, limit)
    }

    /// [`EventStore::pending`] with a market filter too (an event without a
    /// market never matches `market_ids`).
    pub fn pending_in_markets(
        &self,
        integration: &str,
        object_types: Option<&[ObjectType]>,
        change_types: Option<&[ChangeType]>,
        store_ids: Option<&[i64]>,
        market_ids: Option<&[i64]>,
        limit: usize,
    ) -> Vec<Event> {
        let inner = self.lock();
        let Some(queue) = inner.queues.get(integration) else {
            return Vec::new();
        };
        queue
            .events
            .values()
            .filter(|e| object_types.is_none_or(|t| t.contains(&e.object_type)))
            .filter(|e| change_types.is_none_or(|c| c.contains(&e.change_type)))
            .filter(|e| store_ids.is_none_or(|s| e.store_id.is_some_and(|id| s.contains(&id))))
            .filter(|e| market_ids.is_none_or(|m| e.market_id.is_some_and(|id| m.contains(&id))))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Removes the events `ids` from the integration's queue. Returns one
    /// user-error message per id that was not queued for it (the rest are
    /// still confirmed); an id listed twice is confirmed once.
    pub fn confirm(&self, integration: &str, ids: &[i64]) -> Vec<String> {
        let mut inner = self.lock();
        let mut queue = inner.queues.get_mut(integration);
        let mut seen = BTreeSet::new();
        let mut errors = Vec::new();
        for &id in ids {
            if !seen.insert(id) {
                continue;
            }
            let removed = queue.as_mut().and_then(|q| q.events.remove(&id));
            if removed.is_none() {
                errors.push(format!(
                    "Event with id {id} not found in the queue of this integration."
                ));
            }
        }
        errors
    }

    /// How many unconfirmed events the integration has.
    pub fn queued(&self, integration: &str) -> usize {
        self.lock().queues.get(integration).map_or(0, |q| q.events.len())
    }

    /// The integration names that have listeners or queued events, sorted.
    pub fn integrations(&self) -> Vec<String> {
        let mut names: Vec<String> = self.lock().queues.keys().cloned().collect();
        names.sort();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use ChangeType::*;
    use ObjectType::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    fn ids(events: &[Event]) -> Vec<i64> {
        events.iter().map(|e| e.id).collect()
    }

    fn all(store: &EventStore, integration: &str) -> Vec<Event> {
        store.pending(integration, None, None, None, usize::MAX)
    }

    #[test]
    fn enums_round_trip_their_graphql_names() {
        for t in ObjectType::ALL {
            assert_eq!(t.as_str().parse::<ObjectType>().unwrap(), t);
        }
        for c in ChangeType::ALL {
            assert_eq!(c.as_str().parse::<ChangeType>().unwrap(), c);
        }
        assert_eq!(DependentDataChanged.as_str(), "DEPENDENT_DATA_CHANGED");
        assert_eq!(
            "Shipment".parse::<ObjectType>().unwrap_err().to_string(),
            r#"unknown EventObjectType value "Shipment""#
        );
        assert!("created".parse::<ChangeType>().is_err());
    }

    #[test]
    fn enums_match_the_schema() {
        let schema = include_str!("../../centra/schema.graphql");
        let enum_values = |name: &str| -> Vec<String> {
            let line = schema.lines().find(|l| l.starts_with(&format!("enum {name} "))).unwrap();
            let body = &line[line.find('{').unwrap() + 1..line.find('}').unwrap()];
            body.split_whitespace().map(str::to_string).collect()
        };
        assert_eq!(enum_values("EventObjectType"), ObjectType::ALL.map(|t| t.as_str().to_string()));
        assert_eq!(enum_values("EventChangeType"), ChangeType::ALL.map(|c| c.as_str().to_string()));
    }

    #[test]
    fn events_are_queued_only_for_listening_integrations() {
        let store = EventStore::new();
        store.record(Order, Updated, 1, Some(1), at(0));
        store.set_listeners("erp", vec![(Order, None)]);
        store.set_listeners("wms", vec![(StockChange, None), (Order, Some(vec![Created]))]);
        store.record(Order, Updated, 7, Some(1), at(1));
        store.record(Order, Created, 8, Some(2), at(2));
        store.record(StockChange, Created, 30, None, at(3));
        store.record(Warehouse, Updated, 2, None, at(4));
        // The first event predates every listener and the last matches none: no id spent.
        assert_eq!(ids(&all(&store, "erp")), [1, 2]);
        assert_eq!(ids(&all(&store, "wms")), [2, 3]);
        let shared = &all(&store, "wms")[0];
        assert_eq!(
            *shared,
            Event {
                id: 2,
                object_type: Order,
                change_type: Created,
                object_reference: 8,
                store_id: Some(2),
                market_id: None,
                created_at: at(2)
            }
        );
        assert!(all(&store, "nobody").is_empty());
    }

    #[test]
    fn listeners_are_additive_and_idempotent() {
        let store = EventStore::new();
        let rows = store.set_listeners("erp", vec![(Order, Some(vec![Updated]))]);
        assert_eq!(
            rows,
            [Listener {
                integration: "erp".into(),
                object_type: Order,
                change_types: vec![Updated],
                created_at: DateTime::UNIX_EPOCH,
                updated_at: DateTime::UNIX_EPOCH,
            }]
        );
        store.set_listeners(
            "erp",
            vec![(Order, Some(vec![Created, Updated])), (Warehouse, Some(vec![]))],
        );
        let rows = store.set_listeners("erp", vec![(Order, Some(vec![Created]))]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].change_types, [Created, Updated]);
        assert_eq!(rows[1].object_type, Warehouse);
        assert_eq!(rows[1].change_types, ChangeType::ALL);
        // Omitting changeTypes widens an existing listener to all.
        let rows = store.set_listeners("erp", vec![(Order, None)]);
        assert_eq!(rows[0].change_types, ChangeType::ALL);
        assert_eq!(store.listeners("erp"), rows);
        assert!(store.listeners("wms").is_empty());
    }

    #[test]
    fn pending_is_oldest_first_filtered_limited_and_not_consuming() {
        let store = EventStore::new();
        store.set_listeners("erp", vec![(Order, None), (ProductSize, None)]);
        store.record(Order, Created, 100, Some(1), at(0));
        store.record(ProductSize, Updated, 5, None, at(1));
        store.record(Order, Updated, 100, Some(2), at(2));
        store.record(Order, Deleted, 101, Some(1), at(3));
        assert_eq!(ids(&store.pending("erp", None, None, None, 2)), [1, 2]);
        assert_eq!(ids(&store.pending("erp", None, None, None, 2)), [1, 2]);
        assert_eq!(ids(&store.pending("erp", Some(&[Order]), None, None, 10)), [1, 3, 4]);
        assert_eq!(
            ids(&store.pending("erp", None, Some(&[Updated, Deleted]), None, 10)),
            [2, 3, 4]
        );
        assert_eq!(ids(&store.pending("erp", None, None, Some(&[1]), 10)), [1, 4]);
        assert_eq!(
            ids(&store.pending("erp", Some(&[Order]), Some(&[Updated]), Some(&[2]), 10)),
            [3]
        );
        assert!(store.pending("erp", None, None, None, 0).is_empty());
        assert_eq!(store.queued("erp"), 4);
    }

    #[test]
    fn confirm_removes_and_reports_unknown_ids() {
        let store = EventStore::new();
        store.set_listeners("erp", vec![(Order, None)]);
        store.set_listeners("bi", vec![(Order, None)]);
        for n in 0..5 {
            store.record(Order, Updated, n, None, at(n));
        }
        assert_eq!(store.confirm("erp", &[2, 1, 1]), Vec::<String>::new());
        assert_eq!(ids(&all(&store, "erp")), [3, 4, 5]);
        // Confirming in one queue leaves the other's copy.
        assert_eq!(ids(&all(&store, "bi")), [1, 2, 3, 4, 5]);
        let errors = store.confirm("erp", &[3, 2, 99]);
        assert_eq!(
            errors,
            [
                "Event with id 2 not found in the queue of this integration.",
                "Event with id 99 not found in the queue of this integration."
            ]
        );
        assert_eq!(ids(&all(&store, "erp")), [4, 5]);
        assert_eq!(store.confirm("nobody", &[4]).len(), 1);
        assert_eq!(ids(&all(&store, "erp")), [4, 5]);
    }

    #[test]
    fn unset_removes_listeners_and_purges_their_queued_events() {
        let store = EventStore::new();
        store.set_listeners("erp", vec![(Order, None), (StockChange, None), (Warehouse, None)]);
        store.record(Order, Created, 1, None, at(0));
        store.record(StockChange, Created, 2, None, at(1));
        store.record(Warehouse, Updated, 3, None, at(2));
        store.record(StockChange, Created, 4, None, at(3));
        let left = store.unset_listeners("erp", vec![StockChange, Warehouse]);
        assert_eq!(left.iter().map(|l| l.object_type).collect::<Vec<_>>(), [Order]);
        assert_eq!(ids(&all(&store, "erp")), [1]);
        // No longer listening: new stock changes are not queued.
        store.record(StockChange, Created, 5, None, at(4));
        store.record(Order, Updated, 1, None, at(5));
        assert_eq!(ids(&all(&store, "erp")), [1, 5]);
        assert!(store.unset_listeners("nobody", vec![Order]).is_empty());
        assert_eq!(store.integrations(), ["erp"]);
    }

    #[test]
    fn unset_with_change_types_removes_only_those_and_their_queued_events() {
        let store = EventStore::new();
        let rows = store.set_listeners_at("erp", vec![(Order, None)], at(10));
        assert_eq!((rows[0].created_at, rows[0].updated_at), (at(10), at(10)));
        // Setting what is already set changes nothing, not even updatedAt.
        let rows = store.set_listeners_at("erp", vec![(Order, Some(vec![Created]))], at(20));
        assert_eq!((rows[0].created_at, rows[0].updated_at), (at(10), at(10)));
        store.record_in_market(Order, Created, 1, Some(1), Some(3), at(30));
        store.record(Order, Updated, 1, Some(1), at(31));
        store.record(Order, Deleted, 2, Some(1), at(32));
        let rows =
            store.unset_listeners_at("erp", vec![(Order, Some(vec![Updated, Deleted]))], at(40));
        assert_eq!(rows[0].change_types, [Created, Completed, DependentDataChanged]);
        assert_eq!((rows[0].created_at, rows[0].updated_at), (at(10), at(40)));
        assert_eq!(ids(&all(&store, "erp")), [1]);
        assert_eq!(all(&store, "erp")[0].market_id, Some(3));
        assert_eq!(ids(&store.pending_in_markets("erp", None, None, None, Some(&[3]), 9)), [1]);
        assert!(store.pending_in_markets("erp", None, None, None, Some(&[4]), 9).is_empty());
        // Unsetting the rest drops the listener.
        let rows = store.unset_listeners_at(
            "erp",
            vec![(Order, Some(vec![Created, Completed, DependentDataChanged]))],
            at(50),
        );
        assert!(rows.is_empty());
        assert!(all(&store, "erp").is_empty());
    }

    #[test]
    fn concurrent_recording_gives_unique_increasing_ids() {
        let store = std::sync::Arc::new(EventStore::new());
        store.set_listeners("erp", vec![(Order, None)]);
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for n in 0..250 {
                        store.record(Order, Updated, t * 1000 + n, None, at(n));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let events = all(&store, "erp");
        assert_eq!(ids(&events), (1..=1000).collect::<Vec<_>>());
    }
}
