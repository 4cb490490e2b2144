"""The 8 x 8 digits (games.datasets) and the metrics on them (games.digit_metrics): the split against scikit-learn's
own arrays, stacked digits, the library's classifier (held-out accuracy, per-channel labels, the disk cache), the
stacked-MNIST mode count on real and collapsed samples, the Fréchet distance, and a DCGAN trained by mm.run.

The classifier is trained once per test session (module fixture, default cache: $MINIMAX_CACHE or the user cache;
a fresh cache trains it, about 5-10 s on the 2-core CPU)."""

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

sklearn_datasets = pytest.importorskip("sklearn.datasets")

import games  # noqa: E402
import minimax as mm  # noqa: E402
from games import datasets, digit_metrics  # noqa: E402


@pytest.fixture(scope="module")
def clf():
    return digit_metrics.digit_classifier()


@pytest.fixture(scope="module")
def digits():
    return datasets.digits()


# -- data ----------------------------------------------------------------------------------------------------------
def test_digits_split_is_stratified_disjoint_and_covers_the_data(digits):
    raw = sklearn_datasets.load_digits()
    assert digits.train_images.shape == (1433, 8, 8, 1) and digits.test_images.shape == (364, 8, 8, 1)
    assert digits.train_labels.dtype == jnp.int32 and digits.train_images.dtype == jnp.float32
    assert float(jnp.min(digits.train_images)) == -1.0 and float(jnp.max(digits.train_images)) == 1.0
    # every fifth image of each class, from the first, is held out
    counts = np.bincount(raw.target, minlength=10)
    np.testing.assert_array_equal(np.bincount(np.asarray(digits.test_labels), minlength=10), -(-counts // 5))
    members = np.flatnonzero(raw.target == 7)[::5]
    np.testing.assert_array_equal(np.asarray(digits.test_images[digits.test_labels == 7][..., 0]),
                                  raw.images[members] / 8 - 1)
    # train and held-out together are the 1797 images with their labels, each once
    ours = np.concatenate([np.asarray(x).reshape(-1, 64) for x in (digits.train_images, digits.test_images)])
    ours = np.concatenate([ours, np.concatenate([digits.train_labels, digits.test_labels])[:, None]], axis=1)
    theirs = np.concatenate([raw.data / 8 - 1, raw.target[:, None]], axis=1)
    np.testing.assert_array_equal(np.unique(ours, axis=0), np.unique(theirs, axis=0))
    assert ours.shape == theirs.shape
    again = datasets.digits()
    np.testing.assert_array_equal(again.test_images, digits.test_images)


def test_digits_dtype(x64):
    d = datasets.digits()
    assert d.train_images.dtype == jnp.float64
    assert datasets.digits(dtype=jnp.float32).train_images.dtype == jnp.float32
    with pytest.raises(TypeError, match="dtype"):
        datasets.digits(dtype=jnp.int32)


def test_stacked_digits_channels_are_the_documented_training_digits(digits):
    stacked = datasets.stacked_digits()
    key = jax.random.key(3)
    images, labels = jax.jit(stacked.sample_with_labels, static_argnums=1)(key, 500)
    assert images.shape == (500, 8, 8, 3) and labels.shape == (500, 3)
    idx = jax.random.randint(key, (500, 3), 0, 1433)
    np.testing.assert_array_equal(images[:, :, :, 2], digits.train_images[idx[:, 2], :, :, 0])
    np.testing.assert_array_equal(labels, digits.train_labels[idx])
    np.testing.assert_array_equal(stacked.sample(key, 500), images)
    assert datasets.mode_ids(labels[:2]).tolist() == [int("".join(map(str, row))) for row in labels[:2].tolist()]
    # channels independent and uniform: each channel's class frequencies near 1/10 over many samples
    many = stacked.sample_with_labels(jax.random.key(4), 20_000)[1]
    freq = np.stack([np.bincount(np.asarray(many[:, c]), minlength=10) / 20_000 for c in range(3)])
    assert np.max(np.abs(freq - 0.1)) < 0.01
    assert abs(np.corrcoef(np.asarray(many[:, 0]), np.asarray(many[:, 1]))[0, 1]) < 0.03
    test = datasets.stacked_digits(split="test")
    assert test.images.shape == (364, 8, 8) and test.name == "stacked_digits_test"
    with pytest.raises(ValueError, match="split"):
        datasets.stacked_digits(split="validation")
    with pytest.raises(ValueError, match="n"):
        stacked.sample(key, 0)


# -- the classifier ------------------------------------------------------------------------------------------------
def test_classifier_reaches_97_percent_on_held_out_digits(clf, digits):
    assert clf.accuracy >= 0.97
    predicted = clf.predict(digits.test_images)
    assert predicted.shape == (364,) and predicted.dtype == jnp.int32
    assert float(jnp.mean(predicted == digits.test_labels)) == pytest.approx(clf.accuracy, abs=1e-9)
    assert float(jnp.mean(clf.predict(digits.train_images) == digits.train_labels)) >= 0.99


def test_classifier_labels_each_channel_on_its_own(clf, digits):
    images, labels = datasets.stacked_digits(split="test").sample_with_labels(jax.random.key(0), 300)
    logits = clf.logits(images)
    assert logits.shape == (300, 3, 10) and clf.features(images).shape == (300, 3, 64)
    for c in range(3):
        np.testing.assert_allclose(logits[:, c], clf.logits(images[..., c]), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(logits[:, c], clf.logits(images[..., c:c + 1]), rtol=1e-5, atol=1e-5)
    assert float(jnp.mean(clf.predict(images) == labels)) >= 0.95
    assert clf.features(digits.test_images).shape == (364, 64)
    np.testing.assert_array_equal(jax.jit(clf.predict)(images), clf.predict(images))


def test_classifier_cache_is_keyed_by_settings_and_key(clf, tmp_path, monkeypatch):
    trained = []

    def fake_train(key, images, labels):  # returns the fixture's weights: the test is about files, not training
        trained.append(np.asarray(jax.random.key_data(key)).tolist())
        return clf.params, jnp.zeros(3)

    monkeypatch.setattr(digit_metrics, "_train", fake_train)
    first = digit_metrics.digit_classifier(key=jax.random.key(5), cache=tmp_path)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(trained) == 1 and len(files) == 1 and files[0].startswith("digit_classifier-v1-")
    assert first.path == str(tmp_path / files[0]) and first.accuracy == pytest.approx(clf.accuracy)
    digit_metrics._LOADED.clear()
    again = digit_metrics.digit_classifier(key=jax.random.key(5), cache=tmp_path)  # read from the file
    assert len(trained) == 1
    jax.tree.map(np.testing.assert_array_equal, again.params, clf.params)
    digit_metrics.digit_classifier(key=jax.random.key(6), cache=tmp_path)  # another key: another file
    settings = digit_metrics.SETTINGS
    monkeypatch.setattr(digit_metrics, "SETTINGS", {**settings, "steps": 7})
    digit_metrics.digit_classifier(key=jax.random.key(5), cache=tmp_path)  # other settings: another file
    assert len(trained) == 3 and len(list(tmp_path.glob("*.npz"))) == 3
    # a damaged file is trained again and replaced
    digit_metrics._LOADED.clear()
    (tmp_path / files[0]).write_bytes(b"not an npz")
    monkeypatch.setattr(digit_metrics, "SETTINGS", settings)
    digit_metrics.digit_classifier(key=jax.random.key(5), cache=tmp_path)
    assert len(trained) == 4 and (tmp_path / files[0]).stat().st_size > 1000
    # cache=False neither reads nor writes
    digit_metrics.digit_classifier(key=jax.random.key(5), cache=False)
    assert len(trained) == 5 and len(list(tmp_path.glob("*"))) == 3


def test_cache_directory_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MINIMAX_CACHE", str(tmp_path / "mine"))
    assert digit_metrics.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("MINIMAX_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert digit_metrics.cache_dir() == tmp_path / "xdg" / "minimax"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert digit_metrics.cache_dir() == tmp_path / ".cache" / "minimax"


@pytest.mark.parametrize("call, error, match", [
    (lambda c: digit_metrics.digit_classifier(key=3), TypeError, "key"),
    (lambda c: digit_metrics.digit_classifier(key=jax.random.split(jax.random.key(0))), TypeError, "key"),
    (lambda c: digit_metrics.digit_classifier(cache=3), TypeError, "cache"),
    (lambda c: c.logits(jnp.zeros((4, 28, 28, 1))), ValueError, "images"),
    (lambda c: c.predict(jnp.zeros((8, 8))), ValueError, "images"),
    (lambda c: c.features("digits"), TypeError, "images"),
    (lambda c: digit_metrics.mode_coverage(jnp.zeros((4, 8, 8, 1)), classifier="mine"), TypeError, "classifier"),
    (lambda c: digit_metrics.frechet_distance(jnp.zeros((4, 8, 8, 1)), jnp.zeros((4, 8, 8, 3)), c), ValueError,
     "images_b"),
    (lambda c: digit_metrics.frechet_distance(jnp.zeros((1, 8, 8, 1)), jnp.zeros((4, 8, 8, 1)), c), ValueError,
     "images_a"),
])
def test_bad_arguments_name_themselves(clf, call, error, match):
    with pytest.raises(error, match=match):
        call(clf)


# -- mode coverage -------------------------------------------------------------------------------------------------
def test_real_stacked_digits_cover_every_mode_near_uniformly(clf):
    real = datasets.stacked_digits().sample(jax.random.key(0), digit_metrics.STACKED_SAMPLES)
    m = digit_metrics.mode_coverage(real, clf)
    assert m["num_modes"] == 1000 and m["modes"] >= 990 and m["kl"] <= 0.05
    assert isinstance(m["modes"], int) and isinstance(m["kl"], float) and sum(m["counts"]) == 26_000
    # half the modes: the first channel only ever shows 0..4. KL(histogram || uniform) = log 2 + sampling noise
    stacked = datasets.stacked_digits()
    low = datasets.StackedDigits(stacked.images[stacked.labels < 5], stacked.labels[stacked.labels < 5])
    first = low.sample(jax.random.key(1), 26_000)[..., :1]
    half = digit_metrics.mode_coverage(jnp.concatenate([first, real[..., 1:]], axis=-1), clf)
    counts = np.asarray(half["counts"])
    assert np.sum(counts[:500] > 0) >= 495  # modes 000..499 all there; 500..999 only through misread first digits
    assert np.sum(counts[500:]) < 0.03 * 26_000 and half["modes"] < 700
    assert half["kl"] == pytest.approx(math.log(2), abs=0.06)


def test_a_generator_that_always_emits_one_real_image_covers_one_mode(clf):
    image = datasets.stacked_digits().sample(jax.random.key(2), 1)
    m = digit_metrics.mode_coverage(jnp.tile(image, (26_000, 1, 1, 1)), clf)
    assert m["modes"] == 1 and m["kl"] == pytest.approx(math.log(1000), rel=1e-9)


def test_single_digits_use_the_ten_class_histogram(clf, digits):
    m = digit_metrics.mode_coverage(digits.test_images, clf)
    assert m["num_modes"] == 10 and m["modes"] == 10 and len(m["counts"]) == 10
    counts = np.asarray(m["counts"])
    p = counts / counts.sum()
    assert m["kl"] == pytest.approx(float(np.sum(p * np.log(10 * p))), rel=1e-9) and m["kl"] < 0.01
    zeros = digits.test_images[digits.test_labels == 0]
    assert digit_metrics.mode_coverage(zeros, clf)["modes"] <= 2


# -- the Fréchet distance ------------------------------------------------------------------------------------------
def test_frechet_distance_of_real_digits_is_near_zero_and_grows_with_noise(clf, digits):
    from scipy import linalg

    train, test = digits.train_images, digits.test_images
    features = np.asarray(clf.features(train), np.float64)
    spread = float(np.trace(np.cov(features, rowvar=False)))  # the distance to a point mass at the mean feature
    real = digit_metrics.frechet_distance(train, test, clf)
    assert isinstance(real, float) and 0 <= real < 0.02 * spread  # near 0: under 2 % of the data's own spread
    assert digit_metrics.frechet_distance(test, test, clf) == pytest.approx(0.0, abs=1e-6 * spread)
    # the same number from scipy's matrix square root
    fa, fb = features, np.asarray(clf.features(test), np.float64)
    sa, sb = np.cov(fa, rowvar=False), np.cov(fb, rowvar=False)
    with warnings.catch_warnings():  # dead ReLU units make the covariances singular; sqrtm says so, and copes
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(sa @ sb).real
    ref = np.sum((fa.mean(0) - fb.mean(0)) ** 2) + np.trace(sa + sb - 2 * root)
    assert real == pytest.approx(float(ref), rel=1e-4)
    assert digit_metrics.frechet_distance(test, train, clf) == pytest.approx(real, rel=1e-6)
    noise = jax.random.normal(jax.random.key(0), test.shape)
    distances = [real] + [digit_metrics.frechet_distance(train, test + s * noise, clf) for s in (0.2, 0.4, 0.8)]
    assert all(a < b for a, b in zip(distances, distances[1:])), distances
    assert distances[-1] > 10 * real


# -- a GAN on digits -----------------------------------------------------------------------------------------------
@pytest.mark.slow  # compiling the DCGAN step and its metrics: 20-45 s on the 2-core CPU
def test_a_dcgan_on_digits_trains_through_run_without_nan(clf, digits):
    gen = games.dcgan_generator(8, width=8)
    game = games.gan(gen, games.dcgan_discriminator(width=8), digits.train_images, latent_dim=8, batch_size=32)
    res = mm.run(game, mm.simultaneous_gda(optax.adam(1e-3, b1=0.5)), steps=30, key=jax.random.key(0),
                 record_every=10)
    values = np.asarray(res.trace["value"])
    assert values.shape == (4,) and np.all(np.isfinite(values))
    assert values[0] == pytest.approx(-math.log(4), abs=0.3)  # near-zero logits at the start
    samples = games.gan_samples(gen, res.x, jax.random.key(1), 200, latent_dim=8)
    assert samples.shape == (200, 8, 8, 1) and bool(jnp.all(jnp.isfinite(samples)))
    m = digit_metrics.mode_coverage(samples, clf)
    assert 1 <= m["modes"] <= 10 and 0 <= m["kl"] <= math.log(10) + 1e-9
    assert math.isfinite(digit_metrics.frechet_distance(samples, digits.test_images, clf))


def test_stacked_digits_game_with_a_three_channel_dcgan():
    make = lambda: games.gan(games.dcgan_generator(8, 3, width=8), games.dcgan_discriminator(3, width=8),  # noqa: E731
                             datasets.stacked_digits(), latent_dim=8, batch_size=16, r1=0.1)
    game = make()
    assert game == make() and hash(game) == hash(make())  # equal data, equal games: one compilation
    g, d = jax.eval_shape(game.init, jax.random.key(0))
    (v, _), (gx, gy) = jax.eval_shape(game.losses_and_vector_field, g, d, jax.random.key(1))
    assert v.shape == () and jax.tree.map(lambda a: a.shape, gy) == jax.tree.map(lambda a: a.shape, d)
    assert jax.tree.map(lambda a: a.shape, gx) == jax.tree.map(lambda a: a.shape, g)
