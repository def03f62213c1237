"""Versioned notifications of the boot and delete paths, heard on the
cloud's own notification transport."""
import threading
import time

import oslo_messaging as messaging

from compute_core import Cloud
from compute_core.testing import api_request, first_image_id, wait_for_server


class Collector:
    def __init__(self):
        self.events = []
        self.lock = threading.Lock()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        with self.lock:
            self.events.append((event_type, publisher_id, payload))

    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        self.info(ctxt, publisher_id, event_type, payload, metadata)


def test_instance_create_and_delete_notifications():
    overrides = {"oslo_messaging_notifications.driver": ["messagingv2"]}
    with Cloud(overrides=overrides) as cloud:
        collector = Collector()
        listener = messaging.get_notification_listener(
            cloud.notification_transport, [messaging.Target(topic="versioned_notifications")],
            [collector], executor="threading")
        listener.start()
        try:
            image = first_image_id(cloud)
            sid = api_request(cloud, "POST", "/servers", body={"server": {
                "name": "noisy", "imageRef": image, "flavorRef": "1"}}).json()["server"]["id"]
            wait_for_server(cloud, sid)
            api_request(cloud, "DELETE", f"/servers/{sid}")
            wait_for_server(cloud, sid, ("DELETED",))
            deadline = time.monotonic() + 10
            wanted = ["instance.create.start", "instance.create.end",
                      "instance.delete.start", "instance.delete.end"]
            while time.monotonic() < deadline:
                with collector.lock:
                    seen = [e for e, _, p in collector.events
                            if p["nova_object.data"]["uuid"] == sid]
                if all(w in seen for w in wanted):
                    break
                time.sleep(0.05)
            assert [w for w in wanted if w in seen] == wanted, seen
            with collector.lock:
                end = [p for e, pub, p in collector.events if e == "instance.create.end"][0]
                pubs = {pub for e, pub, _ in collector.events if e.startswith("instance.create")}
            assert end["nova_object.data"]["state"] == "active"
            assert end["nova_object.name"] == "InstanceActionPayload"
            assert "compute.host1" in pubs
        finally:
            listener.stop()
            listener.wait()
