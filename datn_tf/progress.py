"""What long jobs print: one line per event, durations as h:mm:ss, TensorBoard scalars."""


def log(msg):
    print(msg, flush=True)


def fmt_time(seconds):
    """`m:ss`, or `h:mm:ss` from an hour on (negative counts as 0)."""
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:d}:{s:02d}"


def _scalar_metadata():
    # TensorBoard's scalar plugin metadata, written without importing tensorboard
    # (TensorFlow 2.21 no longer installs it; `pip install tensorboard` only to view).
    from tensorflow.core.framework import summary_pb2  # lazy: see `write_scalar`

    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
    ).SerializeToString()


def write_scalar(name, value, step):
    """One TensorBoard scalar in the active `tf.summary` writer."""
    # Here, not at the top: `log` and `fmt_time` serve modules that import no TensorFlow (run_dir).
    import tensorflow as tf

    tf.summary.write(name, tf.constant(float(value), tf.float32), step=step, metadata=_scalar_metadata())


def write_scalars(prefix, values, step):
    """`prefix/<name>` for each number in `values` but the example count `n`."""
    for name, value in values.items():
        if name != "n":
            write_scalar(f"{prefix}/{name}", value, step)
