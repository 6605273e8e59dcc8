"""The two entities of the fraud use case. A transaction joins both."""

from feast import Entity, ValueType

from pipelines.data.schema import CUSTOMER_ID, MERCHANT_ID

customer = Entity(
    name="customer",
    join_keys=[CUSTOMER_ID],
    value_type=ValueType.INT64,
    description="A card holder. Features describe their recent spending.",
)

merchant = Entity(
    name="merchant",
    join_keys=[MERCHANT_ID],
    value_type=ValueType.INT64,
    description="A shop that accepts cards. Features describe its recent traffic and chargebacks.",
)
