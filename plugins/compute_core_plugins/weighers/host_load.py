"""IoOpsWeigher and NumInstancesWeigher: weigh hosts by how busy they are.

IoOpsWeigher counts the instances doing I/O; its default multiplier (-1.0)
prefers quiet hosts. NumInstancesWeigher counts instances; its default
multiplier (0.0) disables it, negative spreads and positive packs.
"""
from compute_core_plugins.weighers.multiplier import ConfiguredWeigher


class IoOpsWeigher(ConfiguredWeigher):
    multiplier_option = "io_ops_weight_multiplier"
    minval = 0
    attribute = "num_io_ops"


class NumInstancesWeigher(ConfiguredWeigher):
    multiplier_option = "num_instances_weight_multiplier"
    attribute = "num_instances"
