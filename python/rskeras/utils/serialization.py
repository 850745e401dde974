"""Keras 3's `{"module", "class_name", "config", "registered_name"}` layer records."""


def serialize_layer(layer) -> dict:
    config = layer.get_config()
    build = getattr(layer, "_build_shape_for_config", None)
    record = {"module": "keras.layers", "class_name": type(layer).__name__, "config": config,
              "registered_name": None}
    if build is not None:
        record["build_config"] = {"input_shape": build}
    return record
