"""A small shop whose services coordinate by choreography: no service
calls another.

Order, Payment, Inventory and Shipping each own their data, react to
events and publish events. The same services run on an in-process bus
(one Python process) or on Redis Streams (one OS process per service);
see `shop.bus`.
"""
