"""CrossCellWeigher: during a move allowed to cross cells, prefer hosts in
the instance's current cell.

The request's ``requested_destination`` names the preferred cell (``{"cell":
{"uuid": ...}}`` or ``{"cell_uuid": ...}``) and ``allow_cross_cell_move``;
hosts in that cell weigh 1, others -1; any other request weighs 0.
"""
from compute_core_plugins.weighers.multiplier import ConfiguredWeigher


def preferred_cell(spec_obj):
    dest = spec_obj.requested_destination or {}
    if not dest.get("allow_cross_cell_move"):
        return None
    return (dest.get("cell") or {}).get("uuid") or dest.get("cell_uuid")


class CrossCellWeigher(ConfiguredWeigher):
    multiplier_option = "cross_cell_move_weight_multiplier"

    def _weigh_object(self, host_state, spec_obj):
        cell = preferred_cell(spec_obj)
        if cell is None:
            return 0
        return 1 if host_state.cell_uuid == cell else -1

    def _weigh_all(self, host_states, spec_obj):
        cell = preferred_cell(spec_obj)
        if cell is None:
            return [0.0] * len(host_states)
        return [1.0 if h.cell_uuid == cell else -1.0 for h in host_states]
