"""The compute service: one per hypervisor host. It runs its virt driver
plugin, reports its resources to placement, heartbeats and syncs power
states; all its database access goes through the conductor."""
