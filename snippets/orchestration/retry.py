"""A compensation whose reply is lost: retried, and applied once.

    python retry.py

Bob's payment is declined, so the orchestrator releases his stock. The
network loses Inventory's first answer to ReleaseStock. The orchestrator
cannot tell a lost request from a lost reply, so it sends the same
request again, with the same message id; Inventory recognizes it and
answers as before, without releasing the stock a second time.
"""

from __future__ import annotations

import asyncio
import sys

from checkout.network import Network
from checkout.scenarios import SCENARIOS, open_checkout, place_order
from checkout.services import InventoryService


async def run() -> None:
    scenario = SCENARIOS["payment-declined"]
    network = Network(log=print)
    checkout = open_checkout(network)
    # --8<-- [start:lose-once]
    network.lose_next_reply("StockReleased")
    await place_order(network, scenario)
    # --8<-- [end:lose-once]
    await network.close()
    inventory = checkout.services["inventory"]
    assert isinstance(inventory, InventoryService)
    left = inventory.stock[scenario.sku]
    print(f"inventory: {left} {scenario.sku} in stock (10 before)")
    saga = checkout.orchestrator.sagas[scenario.order_id]
    print(f"saga:      {saga.status}")


def main() -> int:
    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
