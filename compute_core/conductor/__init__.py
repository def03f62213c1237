"""The conductor: orchestrates builds (scheduling, cell placement, casting to
compute, rescheduling) and is the only database access of compute hosts.

Its RPC endpoint is manager.ConductorManager (builds, snapshots), composed of
moves.Moves (resize and migration, rebuild, evacuation, unshelve, live
migration) and db_proxy.DatabaseProxy (the compute hosts' database calls);
recovery finds and mends what a dead conductor left."""
