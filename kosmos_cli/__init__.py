"""The ``kosmos-data`` command-line application: commands that run jobs (``pipelines``),
submit them to Dataflow/Flink, render reports and plans, and the demo. The top of the
import order: core (``kosmos_data``) -> Beam (``kosmos_data.beam``) -> jobs
(``pipelines``) -> this package; nothing below imports it."""
