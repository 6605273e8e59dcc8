"""The local runtime: driftloop's services as plain processes on this machine."""
