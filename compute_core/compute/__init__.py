"""The compute service: one per hypervisor host. It runs its virt driver
plugin, reports its resources to placement, heartbeats and syncs power
states; all its database access goes through the conductor.

Its RPC endpoint is manager.ComputeManager (builds, deletes, power and
server actions, snapshots, consoles), composed of the parts in moves
(resize, migrations, rebuild and evacuation, live migration), shelving,
interfaces and periodic (start-up recovery, periodic tasks, usage audit,
lifecycle events); common holds what they share."""
