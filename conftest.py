"""pytest fixtures shared by every test: small data folders in the official formats.

Built once per session (`datn_tf.testing.make_fixture_data_dir`); tests only read them.
"""

import os
import signal

import pytest

from datn_tf import testing


@pytest.fixture(autouse=True, scope="session")
def _ctrl_c_reaches_commands():
    """A test run started in the background (`make test &`, nohup, some CI runners) ignores
    SIGINT, and every command a test starts would inherit that: the tests that send a command
    Ctrl-C need it to take the signal as when started from a terminal."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Caches that runs write (word2vec vectors) go to a session folder, not ~/.cache."""
    os.environ["DATN_TF_CACHE"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """A fixture data folder with the E1/S1 files and Ren-CECps documents, test splits held out."""
    return testing.make_fixture_data_dir(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def data_dir_with_test(tmp_path_factory):
    """The same with the test splits present (E-c test gold, Ren-CECps documents 641-800)."""
    return testing.make_fixture_data_dir(tmp_path_factory.mktemp("data_test"), with_test=True)


@pytest.fixture(scope="session")
def exported_runs(tmp_path_factory):
    """Tiny DATN-2 and Base runs, trained and exported once (`datn_tf.testing.exports`)."""
    from datn_tf.testing.exports import make_exported_runs

    return make_exported_runs(tmp_path_factory.mktemp("export"))


@pytest.fixture(scope="session")
def finished_run(data_dir, tmp_path_factory):
    """A tiny Base run, trained once for one epoch; tests read it or copy it before changing it."""
    from datn_tf.data.prepare import prepare_data
    from datn_tf.trainer import Trainer

    out = tmp_path_factory.mktemp("run")
    config = testing.tiny_train_config(data_dir, out, variant="base", epochs=1)
    Trainer(config, prepare_data(config)).fit()
    return out
