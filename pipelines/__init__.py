"""The ML loop's library, one subpackage per concern, each importing only those listed after it.

`kfp` (the KFP pipeline definition and its components) > `training` (fit, score, judge) > `registry` (MLflow
runs, versions, aliases, the ONNX artifact) > `features` (Feast, offline tables, training sets, refresh) >
`data` (the event store, landings, the data contract) > `core` (settings, errors, shared contracts).
"""

from pipelines.core.fast_exit import skip_final_collection
from pipelines.core.fast_imports import skip_runtime_typechecks

# Every process of ours (CLI, servers, KFP tasks) imports this package before Feast or KServe: their runtime
# type checks would cost seconds at each import.
skip_runtime_typechecks()
# And ends without the interpreter's last garbage collection over the whole heap (0.4-0.5 s a process).
skip_final_collection()
