"""`driftloop demo`: the whole loop, from an empty state folder to a retrained model in service."""
