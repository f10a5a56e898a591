//! The simulator's truth: the data the GraphQL API serves, in exact units.
//!
//! Money is `i64` minor units of the ISO 4217 currency (what `valueInCents`
//! serves; `value` is that divided by `10^exponent`). Timestamps are UTC
//! instants with second precision. Percentages and rates are `f64` values that
//! are exactly representable (whole numbers or quarters), so `taxPercent: 25`
//! or `conversionRate: 11.25` round-trip without loss. Every value that the
//! API serves for an order is stored here as served (both the including-tax
//! and the excluding-tax variants), so a test never has to re-derive rounding.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A currency as Centra serves it, with its ISO 4217 minor-unit exponent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Currency {
    /// Centra's currency id.
    pub id: i64,
    /// ISO 4217 code, e.g. `SEK`.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Minor units per major unit as a power of ten (2 for SEK, 0 for JPY).
    pub exponent: u32,
}

impl Currency {
    /// Renders `minor` minor units as Centra's `formattedValue`, e.g. `700.00 SEK`.
    pub fn format(&self, minor: i64) -> String {
        let sign = if minor < 0 { "-" } else { "" };
        let abs = minor.unsigned_abs();
        if self.exponent == 0 {
            return format!("{sign}{abs} {}", self.code);
        }
        let div = 10u64.pow(self.exponent);
        format!(
            "{sign}{}.{:0width$} {}",
            abs / div,
            abs % div,
            self.code,
            width = self.exponent as usize
        )
    }

    /// The float `value` Centra serves for `minor` minor units.
    pub fn major_f64(&self, minor: i64) -> f64 {
        minor as f64 / 10f64.powi(self.exponent as i32)
    }
}

/// The kind of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StoreType {
    /// A consumer web shop (`DIRECT_TO_CONSUMER`).
    DirectToConsumer,
    /// A B2B store (`WHOLESALE`).
    Wholesale,
}

impl StoreType {
    /// The GraphQL enum value.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreType::DirectToConsumer => "DIRECT_TO_CONSUMER",
            StoreType::Wholesale => "WHOLESALE",
        }
    }
}

/// A Centra store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Store {
    /// Store id.
    pub id: i64,
    /// Store name.
    pub name: String,
    /// DTC or wholesale.
    pub store_type: StoreType,
}

/// A market, with the currency, pricelist and country its orders use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Market {
    /// Market id.
    pub id: i64,
    /// Market name.
    pub name: String,
    /// The store this market belongs to.
    pub store_id: i64,
    /// The pricelist of the market.
    pub pricelist: Pricelist,
    /// The currency of its pricelist.
    pub currency: Currency,
    /// Conversion rate to the base currency (SEK), exactly representable.
    pub conversion_rate: f64,
    /// The default VAT percent of the market (0 when tax is added on top).
    pub tax_percent: f64,
    /// Whether prices include tax (EU DTC) or tax is added (US, wholesale).
    pub prices_include_tax: bool,
    /// Countries orders of this market ship to.
    pub countries: Vec<Country>,
}

/// A pricelist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pricelist {
    /// Pricelist id.
    pub id: i64,
    /// Pricelist name.
    pub name: String,
}

/// A country.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Country {
    /// Country id.
    pub id: i64,
    /// English name.
    pub name: String,
    /// ISO 3166-1 alpha-2 code.
    pub code: String,
}

/// A postal address (shipping or billing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Address {
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Company name (wholesale).
    pub company_name: Option<String>,
    /// Attention line.
    pub attention: Option<String>,
    /// Street line 1.
    pub address1: Option<String>,
    /// Street line 2.
    pub address2: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Postal code.
    pub zip_code: Option<String>,
    /// Free-text state or province.
    pub state_or_province: Option<String>,
    /// Country.
    pub country: Option<Country>,
    /// E-mail.
    pub email: Option<String>,
    /// Phone.
    pub phone_number: Option<String>,
    /// Mobile phone.
    pub cell_phone_number: Option<String>,
    /// VAT number (wholesale).
    pub vat_number: Option<String>,
}

/// The kind of an attribute element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AttributeElementKind {
    /// Single-line text.
    Input,
    /// Multi-line text.
    Textarea,
    /// A choice.
    Select,
    /// A yes/no choice.
    Boolean,
    /// An image.
    Image,
    /// A file.
    File,
}

impl AttributeElementKind {
    /// The GraphQL enum value.
    pub fn as_str(self) -> &'static str {
        match self {
            AttributeElementKind::Input => "INPUT",
            AttributeElementKind::Textarea => "TEXTAREA",
            AttributeElementKind::Select => "SELECT",
            AttributeElementKind::Boolean => "BOOLEAN",
            AttributeElementKind::Image => "IMAGE",
            AttributeElementKind::File => "FILE",
        }
    }
}

/// The value of an attribute element; the variant decides the GraphQL type
/// (`AttributeStringElement`, `AttributeChoiceElement`, `AttributeFileElement`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AttributeValue {
    /// `AttributeStringElement.value`.
    String {
        /// The text.
        value: String,
    },
    /// `AttributeChoiceElement`.
    Choice {
        /// Whether several values may be selected.
        is_multi: bool,
        /// The selected option key.
        selected_value: Option<String>,
        /// The selected option's display name.
        selected_value_name: Option<String>,
    },
    /// `AttributeFileElement.url`.
    File {
        /// The URL.
        url: Option<String>,
    },
}

/// One element of a custom attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttributeElement {
    /// Element key, e.g. `id`.
    pub key: String,
    /// Element description.
    pub description: String,
    /// Element kind.
    pub kind: AttributeElementKind,
    /// The value.
    pub value: AttributeValue,
}

/// A custom attribute assigned to an order, customer or account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attribute {
    /// The attribute type's config key, e.g. `cus_extra`.
    pub type_name: String,
    /// Whether it is a mapped (shared) attribute.
    pub is_mapped: bool,
    /// Description, e.g. `Customer`.
    pub description: String,
    /// Object type, e.g. `Customer`.
    pub object_type: String,
    /// Elements.
    pub elements: Vec<AttributeElement>,
}

/// A DTC customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Customer {
    /// Customer id.
    pub id: i64,
    /// E-mail.
    pub email: String,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Custom attributes (depend on the profile).
    pub attributes: Vec<Attribute>,
}

/// A wholesale account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// Account id.
    pub id: i64,
    /// Company name.
    pub name: String,
    /// Custom attributes (depend on the profile).
    pub attributes: Vec<Attribute>,
}

/// Order status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    /// `PENDING`.
    Pending,
    /// `CONFIRMED`.
    Confirmed,
    /// `PROCESSING`.
    Processing,
    /// `SHIPPED` (Centra's "Completed").
    Shipped,
    /// `ARCHIVED`.
    Archived,
    /// `CANCELLED`.
    Cancelled,
}

impl OrderStatus {
    /// All statuses in enum order.
    pub const ALL: [OrderStatus; 6] = [
        OrderStatus::Pending,
        OrderStatus::Confirmed,
        OrderStatus::Processing,
        OrderStatus::Shipped,
        OrderStatus::Archived,
        OrderStatus::Cancelled,
    ];

    /// The GraphQL enum value.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "PENDING",
            OrderStatus::Confirmed => "CONFIRMED",
            OrderStatus::Processing => "PROCESSING",
            OrderStatus::Shipped => "SHIPPED",
            OrderStatus::Archived => "ARCHIVED",
            OrderStatus::Cancelled => "CANCELLED",
        }
    }

    /// Parses a GraphQL enum value.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// One product line of an order (`ProductOrderLine`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderLine {
    /// Line id, unique over all orders (`number * 10 + position`).
    pub id: i64,
    /// Product id.
    pub product_id: i64,
    /// Variant id.
    pub variant_id: i64,
    /// Size id.
    pub size_id: i64,
    /// Product name; `None` for about 1 line in 25 (Centra's field is nullable).
    pub product_name: Option<String>,
    /// Product number.
    pub product_number: String,
    /// Variant name; `None` for about 1 line in 20 (Centra's field is nullable).
    pub product_variant_name: Option<String>,
    /// Size label, e.g. `M`.
    pub size: String,
    /// SKU = productNumber + variantNumber + sizeNumber.
    pub sku: String,
    /// Current quantity, excluding cancelled units.
    pub quantity: i64,
    /// Cancelled units.
    pub cancelled_quantity: i64,
    /// Returned units (part of `quantity`).
    pub returned_quantity: i64,
    /// Pricelist unit price including tax, minor units.
    pub unit_original_price_incl_tax: i64,
    /// Pricelist unit price excluding tax, minor units.
    pub unit_original_price_excl_tax: i64,
    /// Paid unit price including tax, minor units.
    pub unit_price_incl_tax: i64,
    /// Paid unit price excluding tax, minor units.
    pub unit_price_excl_tax: i64,
    /// Discount percent (whole number).
    pub discount_percent: f64,
    /// Tax percent (whole number or half).
    pub tax_percent: f64,
}

impl OrderLine {
    /// `lineValue(includingTax: true)`: unit price × quantity.
    pub fn line_value_incl_tax(&self) -> i64 {
        self.unit_price_incl_tax * self.quantity
    }
    /// `lineValue(includingTax: false)`.
    pub fn line_value_excl_tax(&self) -> i64 {
        self.unit_price_excl_tax * self.quantity
    }
}

/// `Order.totals`, minor units of the order currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderTotals {
    /// Sum of line values including tax.
    pub line_values: i64,
    /// Shipping.
    pub shipping: i64,
    /// Handling.
    pub handling: i64,
    /// Discounts given (original minus paid, including tax).
    pub discounts: i64,
    /// Tax added on top of prices (US, wholesale).
    pub tax_added: i64,
    /// Tax deducted (export).
    pub tax_deducted: i64,
    /// Tax included in prices (EU DTC).
    pub tax_included: i64,
    /// `grandTotal(includingTax: true)`.
    pub grand_total_incl_tax: i64,
    /// `grandTotal(includingTax: false)`.
    pub grand_total_excl_tax: i64,
}

/// A DTC customer or a wholesale account, with the type-specific fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderParty {
    /// `DirectToConsumerOrder`.
    DirectToConsumer {
        /// The customer.
        customer: Option<Customer>,
        /// The order's custom attributes (profile dependent).
        attributes: Vec<Attribute>,
    },
    /// `WholesaleOrder`.
    Wholesale {
        /// The account.
        account: Option<Account>,
        /// The buyer's purchase order number.
        purchase_order_number: Option<String>,
    },
}

/// An order as the API serves it now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Order {
    /// Order number (1-based, ascending with creation).
    pub number: i64,
    /// Centra's hash id (32 hex digits).
    pub id: String,
    /// Status.
    pub status: OrderStatus,
    /// On hold flag.
    pub is_on_hold: bool,
    /// Creation instant (= `orderDate`).
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Store.
    pub store: Store,
    /// Market id (see [`Market`]).
    pub market_id: i64,
    /// Market name.
    pub market_name: String,
    /// Pricelist.
    pub pricelist: Pricelist,
    /// Order currency.
    pub currency: Currency,
    /// `currencyBaseRate` (and each `MonetaryValue.conversionRate`).
    pub currency_base_rate: f64,
    /// Totals.
    pub totals: OrderTotals,
    /// Shipping address.
    pub shipping_address: Option<Address>,
    /// Billing address.
    pub billing_address: Option<Address>,
    /// Free-text comment.
    pub other_comment: String,
    /// Lines, including fully cancelled ones (`quantity == 0`).
    pub lines: Vec<OrderLine>,
    /// DTC or wholesale specifics.
    pub party: OrderParty,
}

impl Order {
    /// The GraphQL object type: `DirectToConsumerOrder` or `WholesaleOrder`.
    pub fn type_name(&self) -> &'static str {
        match self.party {
            OrderParty::DirectToConsumer { .. } => "DirectToConsumerOrder",
            OrderParty::Wholesale { .. } => "WholesaleOrder",
        }
    }
}

/// Product status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProductStatus {
    /// Sellable.
    Active,
    /// Hidden.
    Inactive,
    /// Discontinued.
    Cancelled,
}

impl ProductStatus {
    /// The GraphQL enum value.
    pub fn as_str(self) -> &'static str {
        match self {
            ProductStatus::Active => "ACTIVE",
            ProductStatus::Inactive => "INACTIVE",
            ProductStatus::Cancelled => "CANCELLED",
        }
    }
}

/// A product.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Product {
    /// Product id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Product number, e.g. `P1004`.
    pub product_number: String,
    /// Status.
    pub status: ProductStatus,
    /// Base price including 25 % VAT, in SEK öre.
    pub base_price_sek: i64,
    /// Variants.
    pub variants: Vec<Variant>,
}

/// A product variant (a colour).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Variant {
    /// Variant id.
    pub id: i64,
    /// Name, e.g. `Black`.
    pub name: String,
    /// Variant number, e.g. `BLK`.
    pub variant_number: String,
    /// Sizes.
    pub sizes: Vec<Size>,
}

/// A product size (the stock keeping unit).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Size {
    /// Size id.
    pub id: i64,
    /// Product id.
    pub product_id: i64,
    /// Variant id (the catalog's structure; filters and sorts use it).
    pub variant_id: i64,
    /// The variant `ProductSize.productVariant` serves: `Some(variant_id)`,
    /// or `None` for the few sizes Centra serves without one (nullable there).
    pub product_variant_id: Option<i64>,
    /// Size position inside the variant (for `productSizeSort`).
    pub sort: i64,
    /// Size label, e.g. `M`.
    pub description: String,
    /// SKU suffix.
    pub size_number: String,
    /// productNumber + variantNumber + sizeNumber.
    pub sku: String,
    /// 13-digit EAN with a valid check digit.
    pub ean: Option<String>,
    /// Preorder flag.
    pub preorder: bool,
    /// Last change of the size (stock movements do not change it).
    pub updated_at: DateTime<Utc>,
}

/// Warehouse status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WarehouseStatus {
    /// In use.
    Active,
    /// Not in use.
    Inactive,
}

impl WarehouseStatus {
    /// The GraphQL enum value.
    pub fn as_str(self) -> &'static str {
        match self {
            WarehouseStatus::Active => "ACTIVE",
            WarehouseStatus::Inactive => "INACTIVE",
        }
    }
}

/// A warehouse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warehouse {
    /// Warehouse id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Status.
    pub status: WarehouseStatus,
}

/// Stock of one size in one warehouse. The stored quantities are the
/// independent ones; the derived ones follow Centra's definitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StockLevel {
    /// Warehouse id.
    pub warehouse_id: i64,
    /// Size id.
    pub size_id: i64,
    /// On the shelf: free to allocate + allocated.
    pub physical: i64,
    /// Tied to unshipped orders.
    pub allocated: i64,
    /// Ordered but neither linked nor allocated.
    pub demand: i64,
    /// Ordered, not in a sent shipment.
    pub unshipped: i64,
    /// Incoming units linked to orders.
    pub linked_incoming: i64,
    /// Incoming units not linked to orders.
    pub unlinked_incoming: i64,
    /// Units on a created, not yet accepted delivery.
    pub on_delivery: i64,
}

impl StockLevel {
    /// Free to allocate = physical − allocated.
    pub fn free_to_allocate(&self) -> i64 {
        self.physical - self.allocated
    }
    /// Available now = free to allocate − demand.
    pub fn available_now(&self) -> i64 {
        self.free_to_allocate() - self.demand
    }
    /// Incoming = linked + unlinked incoming.
    pub fn incoming(&self) -> i64 {
        self.linked_incoming + self.unlinked_incoming
    }
    /// Available = available now + unlinked incoming.
    pub fn available(&self) -> i64 {
        self.available_now() + self.unlinked_incoming
    }
}

/// A supplier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Supplier {
    /// Supplier id.
    pub id: i64,
    /// Name.
    pub name: String,
}

/// Purchase order status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PurchaseOrderStatus {
    /// Being written.
    Draft,
    /// Sent to the supplier.
    Confirmed,
    /// All delivered.
    Completed,
    /// Cancelled.
    Cancelled,
}

impl PurchaseOrderStatus {
    /// The GraphQL enum value.
    pub fn as_str(self) -> &'static str {
        match self {
            PurchaseOrderStatus::Draft => "DRAFT",
            PurchaseOrderStatus::Confirmed => "CONFIRMED",
            PurchaseOrderStatus::Completed => "COMPLETED",
            PurchaseOrderStatus::Cancelled => "CANCELLED",
        }
    }
}

/// One line of a purchase order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurchaseOrderLine {
    /// Size id (lines are keyed by purchase order and size).
    pub size_id: i64,
    /// Ordered units.
    pub quantity: i64,
    /// Units linked to customer orders.
    pub linked_quantity: i64,
    /// Units not linked.
    pub unlinked_quantity: i64,
    /// Unit cost, minor units of the purchase order currency.
    pub unit_cost: i64,
}

/// A purchase order (supplier order).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PurchaseOrder {
    /// Id.
    pub id: i64,
    /// Status.
    pub status: PurchaseOrderStatus,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Estimated arrival.
    pub eta: Option<DateTime<Utc>>,
    /// Confirmed departure.
    pub confirmed_etd: Option<DateTime<Utc>>,
    /// Our reference.
    pub our_reference: Option<String>,
    /// Currency.
    pub currency: Currency,
    /// Conversion rate to SEK.
    pub conversion_rate: f64,
    /// Supplier.
    pub supplier: Supplier,
    /// Warehouse that receives the goods.
    pub preferred_warehouse_id: Option<i64>,
    /// Lines.
    pub lines: Vec<PurchaseOrderLine>,
}

impl PurchaseOrder {
    /// `productsCount`: total ordered units.
    pub fn products_count(&self) -> i64 {
        self.lines.iter().map(|l| l.quantity).sum()
    }
    /// `productsTotal`: Σ quantity × unit cost, minor units.
    pub fn products_total(&self) -> i64 {
        self.lines.iter().map(|l| l.quantity * l.unit_cost).sum()
    }
}

/// Delivery status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryStatus {
    /// Created, goods on the way.
    Inserted,
    /// Accepted into the warehouse.
    Accepted,
    /// Closed.
    Completed,
    /// Cancelled.
    Cancelled,
}

impl DeliveryStatus {
    /// The GraphQL enum value.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Inserted => "INSERTED",
            DeliveryStatus::Accepted => "ACCEPTED",
            DeliveryStatus::Completed => "COMPLETED",
            DeliveryStatus::Cancelled => "CANCELLED",
        }
    }
    /// Parses a GraphQL enum value.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Inserted, Self::Accepted, Self::Completed, Self::Cancelled]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// One line of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryLine {
    /// Size id.
    pub size_id: i64,
    /// Delivered units.
    pub quantity: i64,
    /// Units linked to customer orders.
    pub linked_quantity: i64,
    /// Units not linked.
    pub unlinked_quantity: i64,
    /// Unit cost, minor units.
    pub unit_cost: i64,
    /// Landed cost per unit (unit cost + share of shipping and other costs), minor units.
    pub landed_cost: i64,
}

/// A purchase order delivery (an inbound delivery).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    /// Id.
    pub id: i64,
    /// Number, `<purchase order id>-<n>`.
    pub number: String,
    /// Status.
    pub status: DeliveryStatus,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Estimated arrival.
    pub eta: Option<DateTime<Utc>>,
    /// Ex-factory date.
    pub ex_factory_date: Option<DateTime<Utc>>,
    /// Shipping cost, minor units.
    pub shipping_cost: i64,
    /// Other costs, minor units.
    pub other_costs: i64,
    /// The purchase order.
    pub purchase_order_id: i64,
    /// Receiving warehouse.
    pub warehouse_id: Option<i64>,
    /// Lines.
    pub lines: Vec<DeliveryLine>,
}

/// The kind of a stock change (`StockChangeType`; the values are inferred).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StockChangeType {
    /// An accepted purchase order delivery.
    Delivery,
    /// A manual change (the control API's stock change).
    Manual,
    /// A shipment of an order (the simulator never records one: inferred).
    OrderShipment,
    /// A return put back in stock (not recorded by the simulator).
    Return,
    /// A stock-take correction (not recorded by the simulator).
    Correction,
}

impl StockChangeType {
    /// Every value, in the schema's order.
    pub const ALL: [StockChangeType; 5] = [
        StockChangeType::Delivery,
        StockChangeType::Manual,
        StockChangeType::OrderShipment,
        StockChangeType::Return,
        StockChangeType::Correction,
    ];

    /// The GraphQL enum value.
    pub fn as_str(self) -> &'static str {
        match self {
            StockChangeType::Delivery => "DELIVERY",
            StockChangeType::Manual => "MANUAL",
            StockChangeType::OrderShipment => "ORDER_SHIPMENT",
            StockChangeType::Return => "RETURN",
            StockChangeType::Correction => "CORRECTION",
        }
    }

    /// Parses a GraphQL enum value.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// One line of a stock change: a size and how much its physical stock moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StockChangeLine {
    /// Line id, unique over all stock changes.
    pub id: i64,
    /// Size id.
    pub size_id: i64,
    /// Change of physical stock (negative when units were removed).
    pub delivered_quantity: i64,
}

/// A recorded physical stock movement (Centra's stock change ledger).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StockChange {
    /// Id, ascending with creation.
    pub id: i64,
    /// When it was recorded (simulated time).
    pub created_at: DateTime<Utc>,
    /// Free text, e.g. `delivery 957-1`.
    pub comment: Option<String>,
    /// What moved the stock.
    pub change_type: StockChangeType,
    /// The warehouse.
    pub warehouse_id: i64,
    /// The lines.
    pub lines: Vec<StockChangeLine>,
}

/// What an order holds in one warehouse for one size while it is not shipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Allocation {
    /// Order number.
    pub order_number: i64,
    /// Warehouse the units are allocated in.
    pub warehouse_id: i64,
    /// Size id.
    pub size_id: i64,
    /// Units allocated (part of `allocatedQuantity`).
    pub allocated: i64,
    /// Units ordered but not allocated for lack of stock (part of `demandQuantity`).
    pub demand: i64,
}
