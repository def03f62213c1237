"""Client side of the scheduler RPC API (topic ``scheduler``).

1.0 - select_destinations
"""
from compute_core import rpc

TOPIC = "scheduler"
VERSION = "1.0"


class SchedulerAPI:
    def __init__(self, transport, timeout=None):
        self.client = rpc.get_client(transport, TOPIC, VERSION, timeout=timeout)

    def select_destinations(self, ctxt, spec: dict, instance_uuids: list[str],
                            return_alternates: bool = True) -> list[list[dict]]:
        return self.client.prepare(version="1.0").call(
            ctxt, "select_destinations", spec=spec, instance_uuids=instance_uuids,
            return_alternates=return_alternates)
