"""``semiseg-train`` from an installed wheel, outside the repository: a user without this
checkout trains on their own folder and gets a package that ``semiseg-predict`` runs (slow)."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tifffile
import yaml

from semiseg_zoo.synthetic import synthetic_nuclei

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_semiseg_train_from_a_wheel_in_a_fresh_environment(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(wheels), str(REPO)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    wheel = next(wheels.glob("semiseg_zoo-*.whl"))
    env_dir = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=300)
    python = env_dir / "bin" / "python"
    # The dependencies come from this test environment's site-packages, as a plain path (so
    # that its editable install of semiseg_zoo stays inactive); semiseg_zoo from the wheel.
    site = Path(
        subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                       capture_output=True, text=True, check=True).stdout.strip()
    )  # fmt: skip
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
                   check=True, capture_output=True, timeout=600)  # fmt: skip
    work = tmp_path / "user"
    (work / "images").mkdir(parents=True)
    (work / "masks").mkdir()
    for seed in range(4):
        image, labels = synthetic_nuclei((128, 128), n_objects=8, radius=(5.0, 9.0), seed=seed)
        tifffile.imwrite(work / "images" / f"img{seed}.tif", image)
        tifffile.imwrite(work / "masks" / f"img{seed}_mask.tif", labels.astype(np.uint16))
    where = subprocess.run(
        [str(python), "-c", "import semiseg_zoo; print(semiseg_zoo.__file__)"],
        cwd=work, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert where.startswith(str(site)), where  # the wheel, not the checkout
    train = subprocess.run(
        [str(env_dir / "bin" / "semiseg-train"), "teacher", "--images", "images", "--labels",
         "masks", "-o", "nuclei.zip", "--steps", "8", "--threads", "1", "--no-progress"],
        cwd=work, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert train.returncode == 0, train.stdout[-2000:] + train.stderr[-2000:]
    with zipfile.ZipFile(work / "nuclei.zip") as archive:
        rdf = yaml.safe_load(archive.read("rdf.yaml"))
    assert rdf["config"]["semiseg"]["training"]["steps"] == 8
    predict = subprocess.run(
        [str(env_dir / "bin" / "semiseg-predict"), "images/img0.tif", "-o", "out", "--model",
         "nuclei.zip"],
        cwd=work, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert predict.returncode == 0, predict.stderr[-2000:]
    labels = tifffile.imread(work / "out" / "img0_instances.tif")
    assert labels.shape == (128, 128)
