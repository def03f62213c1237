"""Example third-party plugins for compute_core.

* :mod:`.driver` - ``example``, a virt driver that keeps guests in memory and
  cannot pause or suspend;
* :mod:`.scheduler` - ``AvoidHostFilter`` (scheduler hint ``avoid_host``) and
  ``PreferredHostWeigher`` (``[example_plugins] preferred_hosts``);
* :mod:`.console` - ``example-line``, a console proxy for a line-based
  console protocol;
* :mod:`.options` - the ``[example_plugins]`` options the plugins register.
"""
