"""Tests for TrainConfig, its presets and the flags generated from it."""

import dataclasses

import pytest
from absl import flags

from datn_tf import config as config_lib
from datn_tf.config import PRESETS, TrainConfig
from datn_tf.errors import UserError


def parse(*argv):
    flag_values = flags.FlagValues()
    config_lib.define_flags(flag_values)
    flag_values(["prog", *argv])
    return config_lib.from_flags(flag_values)


def test_every_field_is_a_flag_with_its_default_and_help():
    flag_values = flags.FlagValues()
    config_lib.define_flags(flag_values)
    for field in dataclasses.fields(TrainConfig):
        assert field.name in flag_values, field.name
        assert flag_values[field.name].default == field.default
        assert flag_values[field.name].help.endswith(field.metadata["help"])
    assert flag_values["similarity"].parser.enum_values == ["sum", "mean", "released"]
    assert flag_values["tie_lstm_directions"].flag_type() == "bool"
    assert flag_values["epochs"].flag_type() == "int"


def test_flags_parse_to_typed_fields():
    config = parse("--variant=sp", "--epochs=8", "--lambda_sim=0.5", "--notie_lstm_directions",
                   "--attention_bias", "--embeddings=/x/glove.txt")
    assert (config.variant, config.epochs, config.lambda_sim) == ("sp", 8, 0.5)
    assert config.attention_bias is True and config.tie_lstm_directions is False
    assert config.embeddings == "/x/glove.txt"
    assert config.output_dir == "runs/semeval-sp-seed0"


def test_no_flags_gives_the_dataclass_defaults():
    config = parse()
    assert dataclasses.replace(config, output_dir=None) == TrainConfig()
    assert config.preset is None


def test_preset_sets_defaults_and_explicit_flags_override():
    config = parse("--preset=released", "--mlp_dropout=0.2", "--epochs=3")
    for name, value in PRESETS["released"].items():
        if name not in ("mlp_dropout", "epochs"):
            assert getattr(config, name) == value, name
    assert config.mlp_dropout == 0.2 and config.epochs == 3
    assert config.preset == "released"
    # An explicit flag equal to the dataclass default still wins over the preset.
    assert parse("--preset=released", "--similarity=sum").similarity == "sum"


def test_released_preset_is_the_released_codes_behaviour():
    released = config_lib.resolve(preset="released")
    assert released.similarity == "released" and released.task_loss_reduction == "sum"
    assert (released.input_dropout, released.lstm_dropout, released.mlp_dropout) == (0.0, 0.5, 0.5)
    assert released.mlp_activation == "tanh"
    assert released.attention_size == 2 * released.hidden_size and released.attention_bias
    assert released.tie_lstm_directions and released.step_order == "emotion_first"
    assert released.normalize_tokens  # ekphrasis-style tags
    assert released.pretrained_vocab_size == 0  # its vocabulary read dev and test: not copied
    assert released.threshold is None  # gamma still tuned on dev, never fixed from test


def test_released_preset_follows_the_released_base_schedule_for_base():
    # ec_lstm_kl_att_topic_other/ec_main.py: 5 epochs over the emotion set; the DATN code: 1.
    assert config_lib.resolve(preset="released", variant="base").epochs == 5
    assert config_lib.resolve(preset="released", variant="sp").epochs == 1
    assert config_lib.resolve(preset="released", variant="base", epochs=2).epochs == 2  # a flag wins
    assert config_lib.resolve(preset="paper", variant="base").epochs is None


def test_released_preset_runs_on_e2_without_its_english_tags():
    e2 = config_lib.resolve(preset="released", dataset="ren_cecps").validate()
    assert not e2.normalize_tokens and e2.similarity == "released"
    with pytest.raises(ValueError, match="--normalize_tokens is defined for English"):
        config_lib.resolve(preset="released", dataset="ren_cecps", normalize_tokens=True).validate()


def test_paper_preset_is_complete_and_matches_section_3_1():
    paper = config_lib.resolve(preset="paper")
    assert (paper.learning_rate, paper.lambda_sim, paper.hidden_size) == (1e-3, 0.05, 200)
    assert paper.similarity == "sum" and paper.task_loss_reduction == "mean"
    assert paper.step_order == "sentiment_first" and not paper.tie_lstm_directions
    # Every setting the released preset changes is pinned by the paper preset too,
    # so the paper preset keeps its meaning when the defaults move.
    assert set(PRESETS["released"]) - {"epochs", "eval_every"} <= set(PRESETS["paper"])


@pytest.mark.parametrize("settings, message", [
    (dict(epochs=0), "--epochs must be >= 1"),
    (dict(max_steps=0), "--max_steps must be >= 1"),
    (dict(max_length=-1), "--max_length must be >= 1"),
    (dict(lambda_sim=-0.1), "--lambda_sim must be >= 0"),
    (dict(learning_rate=0.0), "--learning_rate must be > 0"),
    (dict(lstm_dropout=1.0), "--lstm_dropout must be < 1"),
    (dict(input_dropout=-0.5), "--input_dropout must be >= 0"),
    (dict(similarity="cosine"), "--similarity must be one of sum, mean, released"),
    (dict(variant="datn3"), "--variant must be one of"),
    (dict(cv_fold=10), "--cv_fold must be below --cv_folds"),
    (dict(pretrained_vocab_size=-1), "--pretrained_vocab_size must be >= 0"),
    (dict(embedding_init="glove"), "--embedding_init must be one of pretrained, word2vec, random"),
    (dict(dataset="ren_cecps", normalize_tokens=True), "--normalize_tokens is defined for English"),
])
def test_validate_names_the_flag(settings, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**settings).validate()


def _another_value(field):
    """A valid value of `field` other than its default."""
    meta = field.metadata
    if meta["choices"] is not None:
        return next(c for c in meta["choices"] if c != field.default)
    if config_lib._base_type(field) is bool:
        return not field.default
    if config_lib._base_type(field) is int:
        return (meta["minimum"] or 0) + 1 if field.default is None else field.default + 1
    if config_lib._base_type(field) is float:
        return field.default / 2
    return "x.csv"


def test_a_setting_the_dataset_never_reads_is_refused():
    # --train_file without --dataset=files trained on E1 without a word. Every setting marked with
    # the dataset property it needs is covered, a new one too.
    from datn_tf.data import datasets

    marked = [f for f in dataclasses.fields(TrainConfig) if f.metadata["dataset_when"]]
    assert {f.name for f in marked} >= {"train_file", "dev_file", "sentiment_file", "layout", "delimiter", "cv_fold"}
    assert config_lib.FILE_SETTINGS == tuple(f.name for f in marked if f.metadata["dataset_when"] == "own_files")
    for field in marked:
        readers = [n for n, d in datasets.REGISTRY.items() if getattr(d, field.metadata["dataset_when"])]
        for dataset in set(datasets.REGISTRY) - set(readers):
            runnable = dict(variant="base", train_file="t.csv", dev_file="d.csv") if dataset == "files" else {}
            with pytest.raises(UserError) as err:
                TrainConfig(dataset=dataset, **{**runnable, field.name: _another_value(field)}).validate()
            given = " or ".join(f"--dataset={n}" for n in readers)
            assert str(err.value) == (f"--{field.name} is read only with {given}, not --dataset={dataset}; leave it "
                                      f"out, or pass {given}")
    # The datasets that read them take them; a default value given explicitly is no change.
    TrainConfig(dataset="files", variant="base", train_file="t.csv", dev_file="d.csv", layout="wide").validate()
    TrainConfig(dataset="ren_cecps", cv_fold=3, cv_folds=5).validate()
    TrainConfig(dataset="semeval", layout="auto", cv_folds=10).validate()


# NaN fails every comparison, so only an explicit check stops it; inf and 1e300 fail a bound.
@pytest.mark.parametrize("settings, message", [
    (dict(lambda_sim=float("nan")), "--lambda_sim must be a finite number; got nan"),
    (dict(adversarial_weight=float("nan")), "--adversarial_weight must be a finite number; got nan"),
    (dict(orthogonality_weight=float("inf")), "--orthogonality_weight must be a finite number; got inf"),
    (dict(min_embedding_coverage=float("nan")), "--min_embedding_coverage must be a finite number; got nan"),
    (dict(lstm_dropout=float("nan")), "--lstm_dropout must be a finite number; got nan"),
    (dict(input_dropout=float("nan")), "--input_dropout must be a finite number; got nan"),
    (dict(mlp_dropout=float("nan")), "--mlp_dropout must be a finite number; got nan"),
    (dict(random_init_scale=float("nan")), "--random_init_scale must be a finite number; got nan"),
    (dict(random_init_scale=1e300), "--random_init_scale must be <= 1.0; got 1e+300"),
    (dict(threshold=float("nan")), "--threshold must be a finite number; got nan"),
    (dict(learning_rate=float("nan")), "--learning_rate must be a finite number; got nan"),
    (dict(learning_rate=float("inf")), "--learning_rate must be a finite number; got inf"),
    (dict(learning_rate=1e300), "--learning_rate must be <= 1.0; got 1e+300"),
    (dict(hidden_size=10**9), "--hidden_size must be <= 4096; got 1000000000"),
    (dict(attention_size=10**9), "--attention_size must be <= 4096; got 1000000000"),
    (dict(mlp_hidden_units=10**9), "--mlp_hidden_units must be <= 4096; got 1000000000"),
    (dict(batch_size=10**9), "--batch_size must be <= 4096; got 1000000000"),
    (dict(embedding_dim=10**9), "--embedding_dim must be <= 2048; got 1000000000"),
    (dict(seed=2**32), "--seed must be <= 4294967295; got 4294967296"),
    # Beyond float32 they overflow in TensorFlow's cast (numpy's RuntimeWarning) before training diverges.
    (dict(lambda_sim=1e300), "--lambda_sim must be <= 1000000.0; got 1e+300"),
    (dict(adversarial_weight=1e300), "--adversarial_weight must be <= 1000000.0; got 1e+300"),
    (dict(orthogonality_weight=1e39), "--orthogonality_weight must be <= 1000000.0; got 1e+39"),
])
def test_validate_refuses_non_finite_and_huge_values(settings, message):
    with pytest.raises(ValueError, match=message.replace("+", r"\+")):
        TrainConfig(**settings).validate()


def test_the_largest_allowed_values_validate():
    TrainConfig(hidden_size=4096, attention_size=4096, mlp_hidden_units=4096, batch_size=4096, embedding_dim=2048,
                learning_rate=1.0, random_init_scale=1.0, seed=2**32 - 1).validate()


def test_nan_from_the_command_line_is_refused():
    with pytest.raises(ValueError, match="--lambda_sim must be a finite number; got nan"):
        parse("--lambda_sim=nan").validate()


@pytest.mark.parametrize("value", ["-1", "0", "1000000000000"])
def test_logical_cpus_is_bounded(value):
    from datn_tf import train

    train.define_flags()  # --logical_cpus
    flag_values = flags.FlagValues()
    flag_values.append_flag_values(flags.FLAGS)
    with pytest.raises(flags.IllegalFlagValueError, match="--logical_cpus"):
        flag_values(["prog", f"--logical_cpus={value}"])


def test_unknown_preset_is_rejected():
    with pytest.raises(ValueError, match="--preset must be one of paper, released"):
        config_lib.resolve(preset="authors")


@dataclasses.dataclass
class _ListConfig:
    sizes: tuple = config_lib.setting((50, 300), "Sizes.", minimum=1, item_type=int)
    names: tuple = config_lib.setting(("a",), "Names.", choices=("a", "b"))


def test_tuple_fields_are_comma_separated_list_flags():
    flag_values = flags.FlagValues()
    config_lib.define_flags(flag_values, config_class=_ListConfig)
    flag_values(["prog", "--sizes=16,32", "--names=b,a"])
    config = config_lib.from_flags(flag_values, config_class=_ListConfig)
    assert config == _ListConfig(sizes=(16, 32), names=("b", "a"))
    for name in ("sizes", "names"):
        config_lib._check_field(next(f for f in dataclasses.fields(_ListConfig) if f.name == name),
                                getattr(config, name))
    with pytest.raises(ValueError, match="--sizes must be >= 1; got 0"):
        config_lib._check_field(dataclasses.fields(_ListConfig)[0], (16, 0))
    with pytest.raises(ValueError, match="--names must be one of a, b; got 'c'"):
        config_lib._check_field(dataclasses.fields(_ListConfig)[1], ("a", "c"))
    flag_values = flags.FlagValues()
    config_lib.define_flags(flag_values, config_class=_ListConfig)
    flag_values(["prog", "--sizes=16,x"])
    with pytest.raises(ValueError, match="--sizes: '16,x' is not a list of int"):
        config_lib.from_flags(flag_values, config_class=_ListConfig)


def test_model_config_reads_each_model_setting_from_the_train_config():
    train = TrainConfig(variant="datn1", hidden_size=7, attention_size=9, mlp_hidden_units=11, lstm_dropout=0.3,
                        input_dropout=0.1, mlp_dropout=0.2, mlp_activation="tanh", attention_bias=True,
                        tie_lstm_directions=True, lstm_implementation="packed", encoder="minilm", path_layer="dense",
                        encoder_trainable_layers=2)
    model = config_lib.ModelConfig.from_train_config(train, vocab_size=40, embedding_dim=6, num_emotions=11)
    assert dataclasses.asdict(model) == dict(
        variant="datn1", vocab_size=40, embedding_dim=6, num_emotions=11, num_sentiments=3, hidden_size=7,
        attention_size=9, mlp_hidden_units=11, dropout=0.3, lstm_implementation="packed", input_dropout=0.1,
        mlp_dropout=0.2, mlp_activation="tanh", attention_bias=True, tie_lstm_directions=True, encoder="minilm",
        path_layer="dense", encoder_trainable_layers=2, backbone_config=None, sep_id=102)
    # Its defaults are the train settings' defaults.
    default = config_lib.ModelConfig.from_train_config(TrainConfig(), vocab_size=40, embedding_dim=6, num_emotions=11)
    assert default == config_lib.ModelConfig("datn2", 40, 6, 11)
    with pytest.raises(dataclasses.FrozenInstanceError):
        default.hidden_size = 3


def test_model_config_reads_a_saved_model_config():
    # config.json's model_config as runs saved it: the fields by name, and Keras' own keys.
    saved = {"trainable": True, "dtype": "float32", "variant": "sp", "vocab_size": 40, "embedding_dim": 6,
             "num_emotions": 11, "num_sentiments": 3, "hidden_size": 200, "attention_size": 200,
             "mlp_hidden_units": 200, "dropout": 0.5, "lstm_implementation": "auto", "input_dropout": 0.5,
             "mlp_dropout": 0.0, "mlp_activation": "relu", "attention_bias": False, "tie_lstm_directions": False}
    model, rest = config_lib.ModelConfig.from_dict(saved)
    assert model == config_lib.ModelConfig("sp", 40, 6, 11)
    assert rest == {"trainable": True, "dtype": "float32"}



@pytest.mark.parametrize("field", [f for f in dataclasses.fields(TrainConfig) if f.metadata["encoder_when"]],
                         ids=lambda f: f.name)
def test_a_setting_of_the_other_encoder_is_refused(field):
    # Derived from setting(encoder_when=...): a new setting of either encoder is covered.
    reader, other = ("minilm", "bilstm") if field.metadata["encoder_when"] == "pretrained" else ("bilstm", "minilm")
    given = {field.name: _another_value(field)}
    with pytest.raises(ValueError, match=f"^--{field.name} is a setting of "):
        config_lib.resolve(encoder=other, **given).validate()
    read = config_lib.resolve(encoder=reader, **given)
    assert getattr(read, field.name) == given[field.name]
    assert read._check_encoder(english=True) is None
