"""ImagePropertiesWeigher: weigh a host by how many of its instances' images
share the requested image's properties (property and value).

Every shared property counts each instance having it; with
``image_props_weight_setting`` (``name=ratio`` pairs) each property counts
times its ratio and unlisted properties not at all. A positive multiplier
packs similar instances, a negative one spreads them; the default 0 turns
the weigher off. An instance's image properties are read from its
``image_properties`` (or ``image_meta["properties"]``) in the host state.
"""
import collections

from compute_core_plugins import weight_setting
from compute_core_plugins.weighers.multiplier import ConfiguredWeigher


def instance_image_properties(instance: dict) -> dict:
    props = instance.get("image_properties")
    if props is None:
        props = (instance.get("image_meta") or {}).get("properties")
    return props or {}


class ImagePropertiesWeigher(ConfiguredWeigher):
    multiplier_option = "image_props_weight_multiplier"

    def __init__(self, conf):
        super().__init__(conf)
        self.setting = dict(weight_setting.parse(
            conf.filter_scheduler.image_props_weight_setting,
            "[filter_scheduler] image_props_weight_setting"))

    def _weigh_all(self, host_states, spec_obj):
        if not self.configured_multiplier() or not spec_obj.image_properties:
            # Off (the default), or nothing to compare: spare the walk over
            # every instance of every host.
            return [0.0] * len(host_states)
        return super()._weigh_all(host_states, spec_obj)

    def _weigh_object(self, host_state, spec_obj):
        wanted = {(k, str(v)) for k, v in spec_obj.image_properties.items()}
        if not wanted:
            return 0.0
        counts = collections.Counter()
        for instance in host_state.instances.values():
            for key, value in instance_image_properties(instance).items():
                if (key, str(value)) in wanted:
                    counts[key] += 1
        if self.setting:
            return sum(self.setting.get(key, 0.0) * n for key, n in counts.items())
        return float(sum(counts.values()))
