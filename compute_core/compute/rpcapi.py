"""Client side of the compute RPC API (topic ``compute.<host>``).

1.0 - build_and_run_instance, terminate_instance, stop_instance,
      start_instance, reboot_instance
"""
from compute_core import rpc

TOPIC = "compute"
VERSION = "1.0"


class ComputeAPI:
    def __init__(self, transport, timeout=None):
        self.transport = transport
        self.client = rpc.get_client(transport, TOPIC, VERSION, timeout=timeout)

    def _cctx(self, host):
        return self.client.prepare(server=host, topic=f"{TOPIC}.{host}", version="1.0")

    def build_and_run_instance(self, ctxt, host, instance, request_spec, image, alternates,
                               allocation_request, attempt):
        self._cctx(host).cast(ctxt, "build_and_run_instance", instance=instance,
                              request_spec=request_spec, image=image, alternates=alternates,
                              allocation_request=allocation_request, attempt=attempt)

    def terminate_instance(self, ctxt, host, instance):
        self._cctx(host).cast(ctxt, "terminate_instance", instance=instance)

    def stop_instance(self, ctxt, host, instance, clean_shutdown=True):
        self._cctx(host).cast(ctxt, "stop_instance", instance=instance,
                              clean_shutdown=clean_shutdown)

    def start_instance(self, ctxt, host, instance):
        self._cctx(host).cast(ctxt, "start_instance", instance=instance)

    def reboot_instance(self, ctxt, host, instance, reboot_type):
        self._cctx(host).cast(ctxt, "reboot_instance", instance=instance,
                              reboot_type=reboot_type)
