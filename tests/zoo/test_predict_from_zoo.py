"""semiseg-predict --model <zoo id | DOI | URL> against the local zoo: download once, verify,
segment; then the same offline from the cache."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from semiseg_zoo.cli.predict import main as predict_main
from semiseg_zoo.synthetic import synthetic_nuclei

from .conftest import FIXTURE_DOI, LocalZoo


@pytest.fixture
def zoo_environment(local_zoo: LocalZoo, monkeypatch) -> LocalZoo:
    """semiseg-predict reads its zoo settings from the environment. The zoo's copies of the
    built-in enhancers get ids of their own (a built-in name is never looked up in the zoo)."""
    local_zoo.entry("enhancer-nuclei-lm")["id"] = "lab-nuclei-enhancer"
    local_zoo.entry("enhancer-mito-em")["id"] = "lab-mito-enhancer"
    local_zoo.write_index()
    monkeypatch.setenv("SEMISEG_CACHE", str(local_zoo.settings.cache_dir))
    monkeypatch.setenv("SEMISEG_COLLECTION", local_zoo.collection_url)
    monkeypatch.setenv("SEMISEG_HTTP_TIMEOUT", "2")
    return local_zoo


@pytest.fixture
def probability_image(tmp_path):
    """An enhancer's input: a (noisy) foreground probability map in [0, 1]."""
    _, labels = synthetic_nuclei((128, 128), seed=3)
    noise = np.random.default_rng(3).normal(0, 0.15, labels.shape)
    path = tmp_path / "probabilities.tif"
    tifffile.imwrite(path, np.clip((labels > 0) * 0.8 + 0.1 + noise, 0, 1).astype(np.float32))
    return path, int(labels.max())


def _zip_requests(zoo: LocalZoo) -> int:
    return len(zoo.server.requests_for("/enhancer-nuclei-lm.zip"))


def test_predict_by_id_downloads_once_then_runs_offline(
    zoo_environment, probability_image, tmp_path, capsys
):
    image, n_true = probability_image
    output = tmp_path / "out"
    assert predict_main([str(image), "--model", "lab-nuclei-enhancer", "-o", str(output)]) == 0
    labels = tifffile.imread(output / "probabilities_instances.tif")
    assert labels.shape == (128, 128)
    assert 0.5 * n_true <= labels.max() <= 1.5 * n_true
    assert _zip_requests(zoo_environment) == 1

    again = tmp_path / "offline"
    zoo_environment.server.shutdown()  # nothing to reach: the cache must do
    code = predict_main(
        [str(image), "--model", "bioimage-io/lab-nuclei-enhancer", "--offline", "-o", str(again)]
    )
    assert code == 0, capsys.readouterr().err
    np.testing.assert_array_equal(tifffile.imread(again / "probabilities_instances.tif"), labels)


def test_predict_by_doi_and_by_url_give_the_same_labels(
    zoo_environment, probability_image, tmp_path
):
    image, _ = probability_image
    url = zoo_environment.base_url + "enhancer-nuclei-lm.zip"
    results = []
    for reference in (FIXTURE_DOI, url):
        output = tmp_path / reference.replace("/", "_").replace(":", "_")
        assert predict_main([str(image), "--model", reference, "-o", str(output)]) == 0
        results.append(tifffile.imread(output / "probabilities_instances.tif"))
    np.testing.assert_array_equal(results[0], results[1])


def test_offline_model_not_in_the_cache_is_a_clear_error(zoo_environment, tmp_path, capsys):
    image = tmp_path / "image.tif"
    tifffile.imwrite(image, np.zeros((64, 64), np.float32))
    args = [str(image), "--model", "lab-mito-enhancer", "--offline", "-o", str(tmp_path)]
    code = predict_main(args)
    err = capsys.readouterr().err
    assert code == 2
    assert "lab-mito-enhancer" in err and "semiseg-zoo download" in err
    assert len(err.strip().splitlines()) == 1


def test_third_party_rdf_package_from_the_zoo_writes_probabilities_and_says_why(
    third_party, zoo_environment, tmp_path, capsys
):
    from semiseg_zoo.spec import data_root

    test_input = np.load(data_root() / "zoo_models" / "unet2d_diff_output_shape" / "test_input.npy")
    expected = np.load(data_root() / "zoo_models" / "unet2d_diff_output_shape" / "test_output.npy")
    image = tmp_path / "input.tif"
    tifffile.imwrite(image, test_input[0, 0])
    output = tmp_path / "out"
    args = [str(image), "--model", "unet2d_diff_output_shape", "-o", str(output)]
    assert predict_main(args) == 2
    assert "--trust-code" in capsys.readouterr().err
    assert predict_main([*args, "--trust-code"]) == 0
    printed = capsys.readouterr().out
    assert "not segmented" in printed and "channels ['channel0']" in printed
    probabilities = tifffile.imread(output / "input_probabilities.tif")
    np.testing.assert_allclose(probabilities, expected[0, 0], atol=1e-4)
