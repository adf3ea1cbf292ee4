"""A small checkout whose services are coordinated by an orchestrator.

Order, Inventory and Payment each own their data and answer requests;
none of them knows the others exist. The checkout orchestrator calls
them in turn, waits for each reply up to a deadline, and when a step
fails or never answers, calls them again to undo, in reverse order,
what was already done. Everything runs in one process on asyncio; see
`checkout.network`.
"""
