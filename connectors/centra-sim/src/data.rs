//! Deterministic data: the fixed world (stores, markets, currencies), the
//! catalog, stock, purchase orders and deliveries, and orders generated one
//! at a time from `(seed, number)` so a million of them never need to exist
//! at once.

use crate::model::*;
use chrono::{DateTime, TimeZone, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The fixed instant that the generated history ends at and the simulated
/// clock starts from: 2026-03-01 12:00:00 Europe/Stockholm (11:00 UTC).
pub const EPOCH_BASE_UNIX: i64 = 1_772_362_800;
/// How far back generated orders reach (two years).
pub const HISTORY_SECS: i64 = 730 * 86_400;

/// The simulator's fixed epoch as an instant.
pub fn epoch_base() -> DateTime<Utc> {
    Utc.timestamp_opt(EPOCH_BASE_UNIX, 0).single().unwrap_or(DateTime::<Utc>::UNIX_EPOCH) // the constant is a valid timestamp
}

pub(crate) fn ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or(DateTime::<Utc>::UNIX_EPOCH) // all simulator instants are in range
}

/// SplitMix64: a cheap, good mixing function for seeding.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(crate) fn rng_for(seed: u64, domain: u64, key: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(mix(mix(seed ^ mix(domain)) ^ key))
}

const D_ORDER: u64 = 1;
const D_CATALOG: u64 = 2;
const D_STOCK: u64 = 3;
const D_PO: u64 = 4;
const D_CUSTOMER: u64 = 5;
const D_ACCOUNT: u64 = 6;
pub(crate) const D_CONTROL: u64 = 7;

/// The profile: which custom attributes orders, customers and accounts carry
/// and how much of the business is wholesale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// No custom attributes.
    Plain,
    /// A Nordic fashion brand: gift wrapping and loyalty tiers.
    NordicFashion,
    /// An outdoor brand selling mostly wholesale: ERP references, club
    /// membership, payment terms on accounts.
    OutdoorWholesale,
}

impl Profile {
    /// Parses `plain`, `nordic-fashion` or `outdoor-wholesale`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "plain" => Some(Profile::Plain),
            "nordic-fashion" => Some(Profile::NordicFashion),
            "outdoor-wholesale" => Some(Profile::OutdoorWholesale),
            _ => None,
        }
    }
    fn wholesale_share(self) -> f64 {
        match self {
            Profile::Plain => 0.2,
            Profile::NordicFashion => 0.1,
            Profile::OutdoorWholesale => 0.5,
        }
    }
}

pub(crate) fn currency(code: &str) -> Currency {
    let (id, name, exponent) = match code {
        "SEK" => (1, "Swedish krona", 2),
        "EUR" => (2, "Euro", 2),
        "USD" => (3, "US dollar", 2),
        "GBP" => (4, "Pound sterling", 2),
        "DKK" => (5, "Danish krone", 2),
        "NOK" => (6, "Norwegian krone", 2),
        _ => (7, "Japanese yen", 0),
    };
    Currency { id, code: code.to_string(), name: name.to_string(), exponent }
}

fn country(code: &str) -> Country {
    let (id, name) = match code {
        "SE" => (1, "Sweden"),
        "DE" => (2, "Germany"),
        "FI" => (3, "Finland"),
        "NL" => (4, "Netherlands"),
        "FR" => (5, "France"),
        "US" => (6, "United States"),
        "GB" => (7, "United Kingdom"),
        "DK" => (8, "Denmark"),
        "NO" => (9, "Norway"),
        _ => (10, "Japan"),
    };
    Country { id, name: name.to_string(), code: code.to_string() }
}

/// The stores of every simulated instance.
pub fn stores() -> Vec<Store> {
    vec![
        Store { id: 1, name: "Webshop".into(), store_type: StoreType::DirectToConsumer },
        Store { id: 2, name: "Wholesale".into(), store_type: StoreType::Wholesale },
        Store { id: 3, name: "Outlet".into(), store_type: StoreType::DirectToConsumer },
    ]
}

/// The markets (with their currency, pricelist, tax regime and countries).
pub fn markets() -> Vec<Market> {
    let m = |id: i64,
             name: &str,
             store_id: i64,
             cur: &str,
             rate: f64,
             tax: f64,
             incl: bool,
             countries: &[&str]| Market {
        id,
        name: name.to_string(),
        store_id,
        pricelist: Pricelist { id, name: format!("{name} {cur}") },
        currency: currency(cur),
        conversion_rate: rate,
        tax_percent: tax,
        prices_include_tax: incl,
        countries: countries.iter().map(|c| country(c)).collect(),
    };
    // Rates are exact binary fractions so that floats round-trip.
    vec![
        m(1, "Sweden", 1, "SEK", 1.0, 25.0, true, &["SE"]),
        m(2, "Eurozone", 1, "EUR", 11.25, 20.0, true, &["DE", "FI", "NL", "FR"]),
        m(3, "United States", 1, "USD", 10.5, 8.5, false, &["US"]),
        m(4, "United Kingdom", 1, "GBP", 13.25, 20.0, true, &["GB"]),
        m(5, "Denmark", 1, "DKK", 1.5, 25.0, true, &["DK"]),
        m(6, "Norway", 1, "NOK", 1.0, 25.0, true, &["NO"]),
        m(7, "Japan", 1, "JPY", 0.0703125, 10.0, true, &["JP"]),
        m(8, "Wholesale Nordic", 2, "SEK", 1.0, 25.0, false, &["SE", "NO", "DK"]),
        m(9, "Wholesale EU", 2, "EUR", 11.25, 0.0, false, &["DE", "NL", "FR"]),
        m(10, "Wholesale US", 2, "USD", 10.5, 0.0, false, &["US"]),
        m(11, "Outlet Sweden", 3, "SEK", 1.0, 25.0, true, &["SE"]),
    ]
}

/// Suppliers of the purchase orders.
pub fn suppliers() -> Vec<(Supplier, &'static str)> {
    [
        (1, "Falca Textiles", "EUR"),
        (2, "Porto Knitwear", "EUR"),
        (3, "Guangzhou Outdoor Mfg", "USD"),
        (4, "Borås Väveri", "SEK"),
        (5, "Dhaka Denim Works", "USD"),
    ]
    .into_iter()
    .map(|(id, n, c)| (Supplier { id, name: n.to_string() }, c))
    .collect()
}

/// The warehouses.
pub fn warehouses(count: usize) -> Vec<Warehouse> {
    const NAMES: [&str; 6] = [
        "Main Warehouse Stockholm",
        "Store Gothenburg",
        "3PL Rotterdam",
        "Old Warehouse Malmö",
        "3PL New Jersey",
        "Store Oslo",
    ];
    (0..count.max(1))
        .map(|i| Warehouse {
            id: i as i64 + 1,
            name: if i < NAMES.len() {
                NAMES[i].to_string()
            } else {
                format!("Warehouse {}", i + 1)
            },
            status: if i == 3 { WarehouseStatus::Inactive } else { WarehouseStatus::Active },
        })
        .collect()
}

/// The catalog: products with variants and sizes; size ids are 1.. in order.
pub fn catalog(seed: u64, products: usize) -> Vec<Product> {
    catalog_sized(seed, products, None)
}

/// Whether size `id` is served without a variant (about 1 size in 50).
fn size_without_variant(seed: u64, id: i64) -> bool {
    mix(seed ^ mix(id as u64 ^ 0x7a71_a4e7)).is_multiple_of(50)
}

/// Like [`catalog`], but when `sizes` is given, products are generated until
/// there are exactly that many sizes (the last variant is cut short), however
/// many `products` says.
pub fn catalog_sized(seed: u64, products: usize, sizes: Option<usize>) -> Vec<Product> {
    const ADJ: [&str; 12] = [
        "Merino", "Linen", "Organic", "Classic", "Relaxed", "Alpine", "Coastal", "Ribbed", "Waxed",
        "Recycled", "Heavy", "Light",
    ];
    const NOUN: [(&str, usize); 12] = [
        ("Crew Sweater", 0),
        ("Oxford Shirt", 0),
        ("Chino", 2),
        ("Parka", 0),
        ("Trail Shoe", 1),
        ("Beanie", 3),
        ("Tote Bag", 3),
        ("Hoodie", 0),
        ("Jeans", 2),
        ("Boot", 1),
        ("T-Shirt", 0),
        ("Scarf", 3),
    ];
    const COLORS: [(&str, &str); 8] = [
        ("Black", "BLK"),
        ("Navy", "NVY"),
        ("Olive", "OLV"),
        ("Off White", "OWH"),
        ("Rust", "RST"),
        ("Grey Melange", "GRM"),
        ("Sand", "SND"),
        ("Forest", "FOR"),
    ];
    let charts: [&[&str]; 4] = [
        &["XS", "S", "M", "L", "XL"],
        &["38", "39", "40", "41", "42", "43", "44", "45"],
        &["28", "30", "32", "34", "36"],
        &[""],
    ];
    let mut rng = rng_for(seed, D_CATALOG, 0);
    let mut variant_id = 0i64;
    let mut size_id = 0i64;
    let mut out: Vec<Product> = Vec::new();
    for i in 0.. {
        match sizes {
            Some(n) if size_id as usize >= n => break,
            None if i >= products.max(1) => break,
            _ => {}
        }
        let product = {
            let id = i as i64 + 1;
            let (noun, chart) = NOUN[rng.random_range(0..NOUN.len())];
            let name = format!("{} {}", ADJ[rng.random_range(0..ADJ.len())], noun);
            let product_number = format!("P{}", 1000 + id);
            let base_price_sek = rng.random_range(2..60) * 5000 - 100;
            let status = match rng.random_range(0..20) {
                0 => ProductStatus::Inactive,
                1 => ProductStatus::Cancelled,
                _ => ProductStatus::Active,
            };
            let nvar = rng.random_range(1..=3usize);
            let first_color = rng.random_range(0..COLORS.len());
            let variants = (0..nvar)
                .map(|v| {
                    variant_id += 1;
                    let (cname, cnum) = COLORS[(first_color + v) % COLORS.len()];
                    let sizes = charts[chart]
                        .iter()
                        .enumerate()
                        .map(|(s, label)| {
                            size_id += 1;
                            let size_number = label.to_string();
                            Size {
                                id: size_id,
                                product_id: id,
                                variant_id,
                                product_variant_id: (!size_without_variant(seed, size_id))
                                    .then_some(variant_id),
                                sort: s as i64 + 1,
                                description: if label.is_empty() {
                                    "One Size".into()
                                } else {
                                    label.to_string()
                                },
                                sku: format!("{product_number}{cnum}{size_number}"),
                                size_number,
                                ean: if rng.random_range(0..25) == 0 {
                                    None
                                } else {
                                    Some(ean13(size_id))
                                },
                                preorder: rng.random_range(0..15) == 0,
                                updated_at: ts(
                                    EPOCH_BASE_UNIX - rng.random_range(86_400..HISTORY_SECS)
                                ),
                            }
                        })
                        .collect();
                    Variant {
                        id: variant_id,
                        name: cname.to_string(),
                        variant_number: cnum.to_string(),
                        sizes,
                    }
                })
                .collect();
            Product { id, name, product_number, status, base_price_sek, variants }
        };
        out.push(product);
    }
    if let Some(n) = sizes {
        // Cut the overshoot of the last product so that exactly `n` sizes exist.
        if let Some(last) = out.last_mut() {
            for v in &mut last.variants {
                v.sizes.retain(|s| s.id as usize <= n);
            }
            last.variants.retain(|v| !v.sizes.is_empty());
        }
    }
    out
}

/// A valid EAN-13 for a size id (Swedish GS1 prefix 73).
fn ean13(size_id: i64) -> String {
    let body = format!("73{:010}", size_id % 10_000_000_000);
    let sum: u32 = body
        .bytes()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

/// Whether line `id` serves its name: false for about 1 line in `one_in`,
/// from a hash so that the order generator's random stream is not disturbed.
fn line_name_present(seed: u64, id: i64, one_in: u64) -> bool {
    !mix(seed ^ mix(id as u64)).is_multiple_of(one_in)
}

/// Stock of one size in one warehouse, before any change.
pub fn stock_level(seed: u64, warehouse: &Warehouse, size: &Size) -> StockLevel {
    let mut rng = rng_for(seed, D_STOCK, (warehouse.id as u64) << 32 | size.id as u64);
    let scale = if warehouse.status == WarehouseStatus::Inactive {
        0
    } else if warehouse.id == 1 {
        200
    } else {
        40
    };
    let physical =
        if scale == 0 || rng.random_range(0..8) == 0 { 0 } else { rng.random_range(0..scale) };
    let allocated = if physical == 0 { 0 } else { rng.random_range(0..=physical.min(20)) };
    let demand = if rng.random_range(0..6) == 0 { rng.random_range(1..4) } else { 0 };
    let linked_incoming =
        if warehouse.id == 1 && rng.random_range(0..5) == 0 { rng.random_range(1..10) } else { 0 };
    let unlinked_incoming =
        if warehouse.id == 1 && rng.random_range(0..4) == 0 { rng.random_range(1..30) } else { 0 };
    StockLevel {
        warehouse_id: warehouse.id,
        size_id: size.id,
        physical,
        allocated,
        demand,
        unshipped: allocated + demand,
        linked_incoming,
        unlinked_incoming,
        on_delivery: 0,
    }
}

/// Rounds `a * num / den` half away from zero, in integers.
pub(crate) fn mul_div_round(a: i64, num: i64, den: i64) -> i64 {
    let p = a as i128 * num as i128;
    let d = den as i128;
    let q = if p >= 0 { (2 * p + d) / (2 * d) } else { -((-2 * p + d) / (2 * d)) };
    q as i64
}

/// Price of a product in a market's currency, whole currency units, in minor units.
pub(crate) fn market_price(product: &Product, market: &Market) -> i64 {
    // SEK öre -> SEK -> market currency (rates are in SEK per unit).
    let major = ((product.base_price_sek as f64 / 100.0) / market.conversion_rate).round() as i64;
    let major = major.max(1);
    major * 10i64.pow(market.currency.exponent)
}

/// The purchase orders and their deliveries.
pub fn purchase_orders(
    seed: u64,
    count: usize,
    catalog: &[Product],
    warehouses: &[Warehouse],
) -> (Vec<PurchaseOrder>, Vec<Delivery>) {
    let sups = suppliers();
    let mut pos = Vec::with_capacity(count);
    let mut dels = Vec::new();
    for i in 0..count {
        let id = i as i64 + 1;
        let mut rng = rng_for(seed, D_PO, id as u64);
        let (supplier, cur) = sups[rng.random_range(0..sups.len())].clone();
        let currency = currency(cur);
        let rate = match cur {
            "EUR" => 11.25,
            "USD" => 10.5,
            _ => 1.0,
        };
        let age = rng.random_range(5 * 86_400..400 * 86_400);
        let created = EPOCH_BASE_UNIX - age;
        let status = if age > 120 * 86_400 {
            if rng.random_range(0..10) == 0 {
                PurchaseOrderStatus::Cancelled
            } else {
                PurchaseOrderStatus::Completed
            }
        } else {
            match rng.random_range(0..10) {
                0 => PurchaseOrderStatus::Draft,
                1 => PurchaseOrderStatus::Completed,
                _ => PurchaseOrderStatus::Confirmed,
            }
        };
        let product = &catalog[rng.random_range(0..catalog.len())];
        let variant = &product.variants[rng.random_range(0..product.variants.len())];
        let unit_cost = mul_div_round(product.base_price_sek, 30, 100 * 100)
            .max(1)
            .pipe(|sek| ((sek as f64 / rate).round() as i64).max(1))
            * 10i64.pow(currency.exponent);
        let lines: Vec<PurchaseOrderLine> = variant
            .sizes
            .iter()
            .map(|s| {
                let quantity = rng.random_range(10..120);
                let linked = if rng.random_range(0..3) == 0 {
                    rng.random_range(0..quantity / 4 + 1)
                } else {
                    0
                };
                PurchaseOrderLine {
                    size_id: s.id,
                    quantity,
                    linked_quantity: linked,
                    unlinked_quantity: quantity - linked,
                    unit_cost,
                }
            })
            .collect();
        let active_wh: Vec<&Warehouse> =
            warehouses.iter().filter(|w| w.status == WarehouseStatus::Active).collect();
        let preferred = if rng.random_range(0..6) == 0 || active_wh.is_empty() {
            None
        } else {
            Some(active_wh[rng.random_range(0..active_wh.len().min(2))].id)
        };
        let updated =
            (created + rng.random_range(0..age.min(60 * 86_400))).min(EPOCH_BASE_UNIX - 60);
        let eta = created + rng.random_range(20..60) * 86_400;
        let po = PurchaseOrder {
            id,
            status,
            created_at: ts(created),
            updated_at: ts(updated),
            eta: Some(ts(eta)),
            confirmed_etd: if status == PurchaseOrderStatus::Draft {
                None
            } else {
                Some(ts(eta - 14 * 86_400))
            },
            our_reference: Some(format!("SS{}-{:03}", 24 + id % 3, id)),
            currency,
            conversion_rate: rate,
            supplier,
            preferred_warehouse_id: preferred,
            lines,
        };
        let ndel = match status {
            PurchaseOrderStatus::Draft => 0,
            PurchaseOrderStatus::Cancelled => rng.random_range(0..2),
            PurchaseOrderStatus::Completed => rng.random_range(1..4),
            PurchaseOrderStatus::Confirmed => rng.random_range(0..3),
        };
        for k in 0..ndel {
            let del_id = dels.len() as i64 + 1;
            let dstatus = match status {
                PurchaseOrderStatus::Cancelled => DeliveryStatus::Cancelled,
                PurchaseOrderStatus::Completed => {
                    if k % 2 == 0 {
                        DeliveryStatus::Completed
                    } else {
                        DeliveryStatus::Accepted
                    }
                }
                _ => {
                    if k + 1 == ndel {
                        DeliveryStatus::Inserted
                    } else {
                        DeliveryStatus::Accepted
                    }
                }
            };
            let dcreated =
                created + (k as i64 + 1) * rng.random_range(86_400..(age / 4).max(86_401));
            let dcreated = dcreated.min(EPOCH_BASE_UNIX - 3600);
            dels.push(make_delivery(&mut rng, del_id, &po, k + 1, ndel, dstatus, dcreated));
        }
        pos.push(po);
    }
    (pos, dels)
}

/// A delivery of part `k` of `n` of a purchase order's lines.
pub(crate) fn make_delivery(
    rng: &mut ChaCha8Rng,
    id: i64,
    po: &PurchaseOrder,
    k: usize,
    n: usize,
    status: DeliveryStatus,
    created: i64,
) -> Delivery {
    let unit = 10i64.pow(po.currency.exponent);
    let shipping_cost = rng.random_range(0..50) * 10 * unit;
    let other_costs =
        if rng.random_range(0..3) == 0 { rng.random_range(1..20) * 5 * unit } else { 0 };
    let mut lines: Vec<DeliveryLine> = po
        .lines
        .iter()
        .map(|l| {
            let part = l.quantity / n as i64 + if k == n { l.quantity % n as i64 } else { 0 };
            let linked = (l.linked_quantity / n as i64).min(part);
            DeliveryLine {
                size_id: l.size_id,
                quantity: part,
                linked_quantity: linked,
                unlinked_quantity: part - linked,
                unit_cost: l.unit_cost,
                landed_cost: l.unit_cost,
            }
        })
        .filter(|l| l.quantity > 0)
        .collect();
    let units: i64 = lines.iter().map(|l| l.quantity).sum();
    if units > 0 {
        let extra = (shipping_cost + other_costs) / units;
        for l in &mut lines {
            l.landed_cost = l.unit_cost + extra;
        }
    }
    Delivery {
        id,
        number: format!("{}-{}", po.id, k),
        status,
        created_at: ts(created),
        eta: Some(ts(created + rng.random_range(3..20) * 86_400)),
        ex_factory_date: Some(ts(created - rng.random_range(1..10) * 86_400)),
        shipping_cost,
        other_costs,
        purchase_order_id: po.id,
        warehouse_id: po.preferred_warehouse_id,
        lines,
    }
}

trait Pipe: Sized {
    fn pipe<R>(self, f: impl FnOnce(Self) -> R) -> R {
        f(self)
    }
}
impl Pipe for i64 {}

/// The compact per-order facts that filters and sorts need.
#[derive(Debug, Clone, Copy)]
pub struct OrderHeader {
    /// Created, unix seconds.
    pub created: i64,
    /// Updated, unix seconds.
    pub updated: i64,
    /// Status.
    pub status: OrderStatus,
    /// Store id.
    pub store: u8,
    /// Market id.
    pub market: u8,
}

/// Everything order generation needs that is shared by all orders.
pub struct Generator {
    pub(crate) seed: u64,
    pub(crate) initial_orders: u64,
    pub(crate) profile: Profile,
    pub(crate) catalog: Vec<Product>,
    /// (product index, variant index, size index) of every size, by size id - 1.
    pub(crate) sizes: Vec<(u32, u16, u16)>,
    pub(crate) markets: Vec<Market>,
    pub(crate) stores: Vec<Store>,
    pub(crate) customers: u64,
    pub(crate) accounts: u64,
}

const FIRST: [&str; 20] = [
    "Anna", "Erik", "Maja", "Lars", "Elsa", "Johan", "Sofia", "Nils", "Ebba", "Oskar", "Emma",
    "Liam", "Olivia", "Noah", "Mia", "Lukas", "Sara", "Jonas", "Ida", "Hugo",
];
const LAST: [&str; 16] = [
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Müller",
    "Smith",
    "Jansen",
    "Dubois",
    "Hansen",
    "Sato",
];
const STREETS: [&str; 8] = [
    "Storgatan",
    "Main Street",
    "Hauptstraße",
    "Kungsgatan",
    "High Street",
    "Rue de Rivoli",
    "Nørregade",
    "Karl Johans gate",
];
const COMPANIES: [&str; 10] = [
    "Nordic Outfitters AB",
    "Alpine Supply GmbH",
    "Harbor Goods LLC",
    "Fjällbutiken AB",
    "Boutique Lumière SARL",
    "Trail & Co BV",
    "Oslo Sport AS",
    "Copenhagen Style ApS",
    "Peak Performance Retail Ltd",
    "Summit Stores Inc",
];

fn city_zip(rng: &mut ChaCha8Rng, code: &str) -> (&'static str, String) {
    match code {
        "SE" => (
            ["Stockholm", "Göteborg", "Malmö", "Uppsala"][rng.random_range(0..4)],
            format!("{} {:02}", rng.random_range(100..990), rng.random_range(0..100)),
        ),
        "DE" => (
            ["Berlin", "München", "Hamburg"][rng.random_range(0..3)],
            format!("{:05}", rng.random_range(10000..99999)),
        ),
        "FI" => ("Helsinki", format!("00{:03}", rng.random_range(100..990))),
        "NL" => ("Amsterdam", format!("{} AB", rng.random_range(1000..9999))),
        "FR" => ("Paris", format!("750{:02}", rng.random_range(1..21))),
        "US" => (
            ["New York", "Portland", "Denver"][rng.random_range(0..3)],
            format!("{:05}", rng.random_range(10000..99999)),
        ),
        "GB" => ("London", format!("SW1A {}AA", rng.random_range(1..9))),
        "DK" => ("København", format!("{}", rng.random_range(1000..2999))),
        "NO" => ("Oslo", format!("{:04}", rng.random_range(150..1300))),
        _ => ("Tokyo", format!("{}-{:04}", rng.random_range(100..199), rng.random_range(0..9999))),
    }
}

fn elem_string(
    key: &str,
    desc: &str,
    kind: AttributeElementKind,
    value: String,
) -> AttributeElement {
    AttributeElement {
        key: key.into(),
        description: desc.into(),
        kind,
        value: AttributeValue::String { value },
    }
}

fn elem_choice(
    key: &str,
    desc: &str,
    kind: AttributeElementKind,
    v: Option<(&str, &str)>,
) -> AttributeElement {
    AttributeElement {
        key: key.into(),
        description: desc.into(),
        kind,
        value: AttributeValue::Choice {
            is_multi: false,
            selected_value: v.map(|x| x.0.to_string()),
            selected_value_name: v.map(|x| x.1.to_string()),
        },
    }
}

fn attribute(
    type_name: &str,
    description: &str,
    object_type: &str,
    elements: Vec<AttributeElement>,
) -> Attribute {
    Attribute {
        type_name: type_name.into(),
        is_mapped: false,
        description: description.into(),
        object_type: object_type.into(),
        elements,
    }
}

impl Generator {
    /// Builds the shared generation context.
    pub fn new(seed: u64, initial_orders: u64, profile: Profile, products: usize) -> Self {
        Self::with_catalog(seed, initial_orders, profile, catalog(seed, products))
    }

    /// Builds the shared generation context around a given catalog.
    pub fn with_catalog(
        seed: u64,
        initial_orders: u64,
        profile: Profile,
        catalog: Vec<Product>,
    ) -> Self {
        let mut sizes = Vec::new();
        for (pi, p) in catalog.iter().enumerate() {
            for (vi, v) in p.variants.iter().enumerate() {
                for si in 0..v.sizes.len() {
                    sizes.push((pi as u32, vi as u16, si as u16));
                }
            }
        }
        Self {
            seed,
            initial_orders: initial_orders.max(1),
            profile,
            catalog,
            sizes,
            markets: markets(),
            stores: stores(),
            customers: (initial_orders / 3).max(10),
            accounts: 60,
        }
    }

    /// The size with id `id`.
    pub fn size(&self, id: i64) -> Option<(&Product, &Variant, &Size)> {
        let &(p, v, s) = self.sizes.get(usize::try_from(id - 1).ok()?)?;
        let product = &self.catalog[p as usize];
        let variant = &product.variants[v as usize];
        Some((product, variant, &variant.sizes[s as usize]))
    }

    /// The market with id `id`.
    pub fn market(&self, id: i64) -> Option<&Market> {
        self.markets.iter().find(|m| m.id == id)
    }

    /// The order id hash of `number`.
    pub fn order_id(&self, number: i64) -> String {
        let n = number as u64;
        format!("{:016x}{:016x}", mix(self.seed ^ mix(n)), n ^ mix(self.seed ^ 0x5eed))
    }

    /// The number encoded in an order id hash, if it is one of ours.
    pub fn number_of_id(&self, id: &str) -> Option<i64> {
        if id.len() != 32 {
            return None;
        }
        let low = u64::from_str_radix(&id[16..], 16).ok()?;
        let n = low ^ mix(self.seed ^ 0x5eed);
        let n = i64::try_from(n).ok()?;
        (n > 0 && self.order_id(n) == id).then_some(n)
    }

    fn order_rng(&self, number: i64) -> ChaCha8Rng {
        rng_for(self.seed, D_ORDER, number as u64)
    }

    /// The header of generated order `number` (1..=initial orders).
    pub fn header(&self, number: i64) -> OrderHeader {
        self.header_with(&mut self.order_rng(number), number)
    }

    fn header_with(&self, rng: &mut ChaCha8Rng, number: i64) -> OrderHeader {
        let step = (HISTORY_SECS / self.initial_orders as i64).max(1);
        let start = EPOCH_BASE_UNIX - HISTORY_SECS;
        let created = start + (number - 1) * step + rng.random_range(0..step);
        let age = EPOCH_BASE_UNIX - created;
        let r: u32 = rng.random_range(0..100);
        let status = if age > 60 * 86_400 {
            match r {
                0..70 => OrderStatus::Archived,
                70..95 => OrderStatus::Shipped,
                _ => OrderStatus::Cancelled,
            }
        } else if age > 7 * 86_400 {
            match r {
                0..80 => OrderStatus::Shipped,
                80..85 => OrderStatus::Cancelled,
                85..95 => OrderStatus::Processing,
                _ => OrderStatus::Confirmed,
            }
        } else {
            match r {
                0..25 => OrderStatus::Pending,
                25..55 => OrderStatus::Confirmed,
                55..80 => OrderStatus::Processing,
                80..97 => OrderStatus::Shipped,
                _ => OrderStatus::Cancelled,
            }
        };
        let max_update = age.clamp(1, 30 * 86_400);
        let updated =
            (created + rng.random_range(0..max_update)).min(EPOCH_BASE_UNIX - 60).max(created);
        let wholesale = rng.random_bool(self.profile.wholesale_share());
        let (store, market) = if wholesale {
            (2u8, [8u8, 8, 9, 9, 10][rng.random_range(0..5)])
        } else if rng.random_range(0..10) == 0 {
            (3u8, 11u8)
        } else {
            (1u8, [1u8, 1, 1, 2, 2, 3, 4, 5, 6, 7][rng.random_range(0..10)])
        };
        OrderHeader { created, updated, status, store, market }
    }

    /// Generates order `number` in full as it was first created.
    pub fn order(&self, number: i64) -> Order {
        let mut rng = self.order_rng(number);
        let h = self.header_with(&mut rng, number);
        self.order_from(&mut rng, number, h)
    }

    /// Generates a full order from a header, continuing `rng`.
    pub(crate) fn order_from(&self, rng: &mut ChaCha8Rng, number: i64, h: OrderHeader) -> Order {
        let market = self
            .market(i64::from(h.market))
            .unwrap_or(&self.markets[0]) // headers only name markets from markets()
            .clone();
        let store = self
            .stores
            .iter()
            .find(|s| s.id == i64::from(h.store))
            .unwrap_or(&self.stores[0]) // headers only name stores from stores()
            .clone();
        let wholesale = store.store_type == StoreType::Wholesale;
        let country = market.countries[rng.random_range(0..market.countries.len())].clone();
        let nlines = rng.random_range(1..=8usize);
        let t2 = (market.tax_percent * 2.0).round() as i64;
        let mut lines = Vec::with_capacity(nlines);
        let shipped = matches!(h.status, OrderStatus::Shipped | OrderStatus::Archived);
        for pos in 0..nlines {
            let sid = rng.random_range(1..=self.sizes.len() as i64);
            let Some((p, v, s)) = self.size(sid) else { continue };
            let price = market_price(p, &market);
            let (orig_incl, orig_excl) = if market.prices_include_tax {
                (price, mul_div_round(price, 200, 200 + t2))
            } else {
                (mul_div_round(price, 200 + t2, 200), price)
            };
            let discount: i64 = [0, 0, 0, 0, 10, 20, 25, 30, 50][rng.random_range(0..9)];
            let ordered: i64 =
                if wholesale { rng.random_range(4..40) } else { rng.random_range(1..4) };
            let cancelled = if h.status == OrderStatus::Cancelled {
                ordered
            } else if rng.random_range(0..10) == 0 {
                rng.random_range(1..=ordered)
            } else {
                0
            };
            let quantity = ordered - cancelled;
            let returned = if shipped && quantity > 0 && rng.random_range(0..7) == 0 {
                rng.random_range(1..=quantity)
            } else {
                0
            };
            lines.push(OrderLine {
                id: number * 10 + pos as i64 + 1,
                product_id: p.id,
                variant_id: v.id,
                size_id: s.id,
                product_name: line_name_present(self.seed, number * 10 + pos as i64 + 1, 25)
                    .then(|| p.name.clone()),
                product_number: p.product_number.clone(),
                product_variant_name: line_name_present(
                    self.seed ^ 0x0f1e_2d3c,
                    number * 10 + pos as i64 + 1,
                    20,
                )
                .then(|| v.name.clone()),
                size: s.description.clone(),
                sku: s.sku.clone(),
                quantity,
                cancelled_quantity: cancelled,
                returned_quantity: returned,
                unit_original_price_incl_tax: orig_incl,
                unit_original_price_excl_tax: orig_excl,
                unit_price_incl_tax: mul_div_round(orig_incl, 100 - discount, 100),
                unit_price_excl_tax: mul_div_round(orig_excl, 100 - discount, 100),
                discount_percent: discount as f64,
                tax_percent: market.tax_percent,
            });
        }
        let unit = 10i64.pow(market.currency.exponent);
        let ship_major = if wholesale {
            [0, 0, 250][rng.random_range(0..3)]
        } else {
            ((49.0 / market.conversion_rate).round() as i64).max(1)
                * [0, 1, 1][rng.random_range(0..3)]
        };
        let shipping = ship_major * unit;
        let (ship_incl, ship_excl) = if market.prices_include_tax {
            (shipping, mul_div_round(shipping, 200, 200 + t2))
        } else {
            (mul_div_round(shipping, 200 + t2, 200), shipping)
        };
        let handling = if wholesale && rng.random_range(0..4) == 0 { 100 * unit } else { 0 };
        let first = FIRST[rng.random_range(0..FIRST.len())];
        let last = LAST[rng.random_range(0..LAST.len())];
        let (city, zip) = city_zip(rng, &country.code);
        let street =
            format!("{} {}", STREETS[rng.random_range(0..STREETS.len())], rng.random_range(1..120));
        let party = if wholesale {
            let account_id = rng.random_range(1..=self.accounts as i64);
            let account = self.account(account_id);
            OrderParty::Wholesale {
                purchase_order_number: if rng.random_range(0..3) == 0 {
                    None
                } else {
                    Some(format!("PO-{}", rng.random_range(10_000..99_999)))
                },
                account: Some(account),
            }
        } else {
            let customer = if rng.random_range(0..20) == 0 {
                None
            } else {
                Some(self.customer(rng.random_range(1..=self.customers as i64)))
            };
            OrderParty::DirectToConsumer { customer, attributes: self.order_attributes(rng) }
        };
        let (first, last, email) = match &party {
            OrderParty::DirectToConsumer { customer: Some(c), .. } => (
                c.first_name.clone().unwrap_or_default(),
                c.last_name.clone().unwrap_or_default(),
                c.email.clone(),
            ),
            _ => (
                first.to_string(),
                last.to_string(),
                format!("{}.{}@example.com", first.to_lowercase(), last.to_lowercase()),
            ),
        };
        let company = match &party {
            OrderParty::Wholesale { account: Some(a), .. } => Some(a.name.clone()),
            _ => None,
        };
        let address = Address {
            first_name: Some(first),
            last_name: Some(last),
            company_name: company.clone(),
            attention: None,
            address1: Some(street),
            address2: if rng.random_range(0..5) == 0 {
                Some(format!("Apt {}", rng.random_range(1..60)))
            } else {
                None
            },
            city: Some(city.to_string()),
            zip_code: Some(zip),
            state_or_province: if country.code == "US" {
                Some(["NY", "OR", "CO"][rng.random_range(0..3)].to_string())
            } else {
                None
            },
            country: Some(country.clone()),
            email: Some(email),
            phone_number: Some(format!(
                "+46 70 {:03} {:02} {:02}",
                rng.random_range(0..1000),
                rng.random_range(0..100),
                rng.random_range(0..100)
            )),
            cell_phone_number: None,
            vat_number: company
                .as_ref()
                .map(|_| format!("{}{:010}", country.code, rng.random_range(0..9_999_999_999i64))),
        };
        let billing = if rng.random_range(0..4) == 0 {
            let mut b = address.clone();
            b.address1 = Some(format!("Box {}", rng.random_range(100..999)));
            b
        } else {
            address.clone()
        };
        let mut order = Order {
            number,
            id: self.order_id(number),
            status: h.status,
            is_on_hold: rng.random_range(0..50) == 0 && h.status == OrderStatus::Confirmed,
            created_at: ts(h.created),
            updated_at: ts(h.updated),
            store,
            market_id: market.id,
            market_name: market.name.clone(),
            pricelist: market.pricelist.clone(),
            currency: market.currency.clone(),
            currency_base_rate: market.conversion_rate,
            totals: OrderTotals {
                line_values: 0,
                shipping: if market.prices_include_tax { ship_incl } else { ship_excl },
                handling,
                discounts: 0,
                tax_added: 0,
                tax_deducted: 0,
                tax_included: 0,
                grand_total_incl_tax: 0,
                grand_total_excl_tax: 0,
            },
            shipping_address: Some(address),
            billing_address: Some(billing),
            other_comment: if rng.random_range(0..8) == 0 {
                "Leave at the door".into()
            } else {
                String::new()
            },
            lines,
            party,
        };
        recompute_totals(&mut order, ship_excl, ship_incl - ship_excl, market.prices_include_tax);
        order
    }

    /// A customer, the same every time it appears.
    pub fn customer(&self, id: i64) -> Customer {
        let mut rng = rng_for(self.seed, D_CUSTOMER, id as u64);
        let first = FIRST[rng.random_range(0..FIRST.len())];
        let last = LAST[rng.random_range(0..LAST.len())];
        let attributes = match self.profile {
            Profile::Plain => Vec::new(),
            Profile::NordicFashion => {
                let tier = [("bronze", "Bronze"), ("silver", "Silver"), ("gold", "Gold")]
                    [rng.random_range(0..3)];
                vec![attribute(
                    "cus_loyalty",
                    "Loyalty",
                    "Customer",
                    vec![
                        elem_choice(
                            "tier",
                            "Loyalty tier",
                            AttributeElementKind::Select,
                            Some(tier),
                        ),
                        elem_string(
                            "member_since",
                            "Member since",
                            AttributeElementKind::Input,
                            format!("{}", 2015 + rng.random_range(0..11)),
                        ),
                    ],
                )]
            }
            Profile::OutdoorWholesale => {
                let news = if rng.random_bool(0.5) { ("1", "Yes") } else { ("0", "No") };
                vec![attribute(
                    "cus_club",
                    "Outdoor club",
                    "Customer",
                    vec![
                        elem_string(
                            "club_id",
                            "Club member id",
                            AttributeElementKind::Input,
                            format!("OC-{:06}", id),
                        ),
                        elem_choice(
                            "newsletter",
                            "Newsletter",
                            AttributeElementKind::Boolean,
                            Some(news),
                        ),
                    ],
                )]
            }
        };
        Customer {
            id,
            email: format!("{}.{}{}@example.com", first.to_lowercase(), last.to_lowercase(), id),
            first_name: Some(first.to_string()),
            last_name: Some(last.to_string()),
            attributes,
        }
    }

    /// A wholesale account, the same every time it appears.
    pub fn account(&self, id: i64) -> Account {
        let mut rng = rng_for(self.seed, D_ACCOUNT, id as u64);
        let attributes = match self.profile {
            Profile::OutdoorWholesale => {
                let terms =
                    [("net30", "Net 30 days"), ("net60", "Net 60 days"), ("prepaid", "Prepaid")]
                        [rng.random_range(0..3)];
                vec![attribute(
                    "acc_terms",
                    "Account terms",
                    "Account",
                    vec![
                        elem_choice(
                            "payment_terms",
                            "Payment terms",
                            AttributeElementKind::Select,
                            Some(terms),
                        ),
                        elem_string(
                            "credit_limit",
                            "Credit limit (EUR)",
                            AttributeElementKind::Input,
                            format!("{}", rng.random_range(1..50) * 1000),
                        ),
                    ],
                )]
            }
            _ => Vec::new(),
        };
        Account {
            id,
            name: format!("{} #{}", COMPANIES[(id as usize - 1) % COMPANIES.len()], id),
            attributes,
        }
    }

    fn order_attributes(&self, rng: &mut ChaCha8Rng) -> Vec<Attribute> {
        match self.profile {
            Profile::Plain => Vec::new(),
            Profile::NordicFashion => {
                let mut v = vec![attribute(
                    "ord_source",
                    "Order source",
                    "Order",
                    vec![elem_choice(
                        "channel",
                        "Sales channel",
                        AttributeElementKind::Select,
                        Some(
                            [("web", "Web"), ("app", "App"), ("instagram", "Instagram")]
                                [rng.random_range(0..3)],
                        ),
                    )],
                )];
                if rng.random_range(0..4) == 0 {
                    v.push(attribute(
                        "ord_gift",
                        "Gift wrapping",
                        "Order",
                        vec![
                            elem_string(
                                "message",
                                "Gift message",
                                AttributeElementKind::Textarea,
                                "Grattis på födelsedagen!".into(),
                            ),
                            elem_choice(
                                "wrap",
                                "Wrapping",
                                AttributeElementKind::Select,
                                Some(("paper", "Recycled paper")),
                            ),
                        ],
                    ));
                }
                v
            }
            Profile::OutdoorWholesale => vec![attribute(
                "ord_erp",
                "ERP",
                "Order",
                vec![
                    elem_string(
                        "erp_ref",
                        "ERP reference",
                        AttributeElementKind::Input,
                        format!("ERP{:08}", rng.random_range(0..100_000_000)),
                    ),
                    AttributeElement {
                        key: "packing_list".into(),
                        description: "Packing list".into(),
                        kind: AttributeElementKind::File,
                        value: AttributeValue::File {
                            url: if rng.random_bool(0.5) {
                                Some(format!(
                                    "https://files.example.com/pl/{}.pdf",
                                    rng.random_range(1000..9999)
                                ))
                            } else {
                                None
                            },
                        },
                    },
                ],
            )],
        }
    }
}

/// Recomputes `order.totals` from its lines. `ship_excl` and `ship_tax` are
/// the shipping excluding tax and the tax on shipping.
pub(crate) fn recompute_totals(
    order: &mut Order,
    ship_excl: i64,
    ship_tax: i64,
    include_tax: bool,
) {
    let items_incl: i64 = order.lines.iter().map(|l| l.line_value_incl_tax()).sum();
    let items_excl: i64 = order.lines.iter().map(|l| l.line_value_excl_tax()).sum();
    let discounts: i64 = order
        .lines
        .iter()
        .map(|l| (l.unit_original_price_incl_tax - l.unit_price_incl_tax) * l.quantity)
        .sum();
    let t = &mut order.totals;
    let tax = items_incl - items_excl + ship_tax;
    t.line_values = items_incl;
    t.discounts = discounts;
    t.grand_total_excl_tax = items_excl + ship_excl + t.handling;
    t.grand_total_incl_tax = t.grand_total_excl_tax + tax;
    if include_tax {
        t.tax_included = tax;
        t.tax_added = 0;
    } else {
        t.tax_added = tax;
        t.tax_included = 0;
    }
}

/// Recovers (shipping excluding tax, tax on shipping) of an order.
pub(crate) fn shipping_parts(order: &Order) -> (i64, i64) {
    let t = &order.totals;
    let items_incl: i64 = order.lines.iter().map(|l| l.line_value_incl_tax()).sum();
    let items_excl: i64 = order.lines.iter().map(|l| l.line_value_excl_tax()).sum();
    let tax = t.grand_total_incl_tax - t.grand_total_excl_tax;
    let ship_tax = tax - (items_incl - items_excl);
    let ship_excl = t.grand_total_excl_tax - items_excl - t.handling;
    (ship_excl, ship_tax)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ean_check_digit_is_valid() {
        // 7300000000017: body 730000000001 -> sum 7+9+0...+3 = ... verified by the generic check.
        for id in [1, 42, 123_456] {
            let e = ean13(id);
            assert_eq!(e.len(), 13);
            let s: u32 = e
                .bytes()
                .enumerate()
                .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 })
                .sum();
            assert_eq!(s % 10, 0, "{e}");
        }
    }

    #[test]
    fn orders_are_deterministic_and_ids_invert() {
        let g = Generator::new(7, 1000, Profile::NordicFashion, 30);
        let a = g.order(17);
        let b = g.order(17);
        assert_eq!(a, b);
        assert_eq!(g.number_of_id(&a.id), Some(17));
        assert_ne!(g.order(18).id, a.id);
        let h = g.header(17);
        assert_eq!(ts(h.created), a.created_at);
        assert_eq!(h.status, a.status);
    }

    #[test]
    fn totals_add_up_and_shipping_parts_round_trip() {
        let g = Generator::new(3, 500, Profile::Plain, 30);
        for n in 1..200 {
            let o = g.order(n);
            let t = &o.totals;
            let items: i64 = o.lines.iter().map(|l| l.line_value_incl_tax()).sum();
            assert_eq!(t.line_values, items);
            assert!(t.grand_total_incl_tax >= t.grand_total_excl_tax);
            let (se, st) = shipping_parts(&o);
            let inc = g.market(o.market_id).map(|m| m.prices_include_tax);
            let mut o2 = o.clone();
            recompute_totals(&mut o2, se, st, inc == Some(true));
            assert_eq!(o2.totals, o.totals, "order {n}");
            for l in &o.lines {
                assert!(l.sku.starts_with(&l.product_number));
            }
        }
    }

    #[test]
    fn money_formats_per_exponent() {
        assert_eq!(currency("SEK").format(70000), "700.00 SEK");
        assert_eq!(currency("JPY").format(7100), "7100 JPY");
        assert_eq!(currency("EUR").format(-5), "-0.05 EUR");
    }
}
