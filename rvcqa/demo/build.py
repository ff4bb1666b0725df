"""Build the demo model's complete RVC experiment folder (``logs/healthy``) from package data.

The demo model is a small voice honestly trained on 22 LJ Speech clips (the trainer lives in the
rvcqa repository, ``fixtures/train_healthy.py``). Its fp16 weights, the F0 it was trained on, its
training record, the clips and two small text files ship in ``rvcqa/demo/data/``; everything
else is rebuilt here, deterministically, with exactly the preprocessing the trainer used::

    healthy/
      healthy.pth            the trained fp16 inference model (copy of data/healthy.pth)
      G_{early}.pth          RVC training checkpoint: snapshot_early weights (fp32) + enc_q
      D_{early}.pth          small dummy discriminator state dict (``discriminators.*``)
      G_{final}.pth          the final weights (fp32) + enc_q
      D_{final}.pth
      config.json            RVC's v2 48k config.json layout, model section at the model's widths
      train.log              SYNTHETIC RVC-format log (data/train.log, see below)
      0_gt_wavs/{i}_{j}.wav  float32 48 kHz training slices (the trainer's targets)
      1_16k_wavs/            float32 16 kHz copies
      2a_f0/{i}_{j}.wav.npy  coarse pitch 1..255 (int64)      } the SAME pyin F0 the model
      2b-f0nsf/{i}_{j}.wav.npy  F0 in Hz (float64)            } was trained on (data/f0_pyin.npz)
      3_feature768/          stand-in content features (StandInContent(768, seed 1234)), float32
      filelist.txt           RVC's filelist (absolute paths of this folder, 2 mute lines, shuffled)
      rvcqa_content.json     {"extractor": "standin", "dim": 768, "seed": 1234}

Honesty notes: ``enc_q`` was not used by the trainer, so the G files carry the deterministic
*untrained* enc_q of ``build_synthesizer`` after ``torch.manual_seed(ENC_Q_SEED)``. ``train.log``
is synthetic (the trainer is not RVC's ``train.py``): RVC's file format with a healthy loss curve,
steps/epoch equal to what RVC's bucket sampler gives for this folder's filelist and as many epochs
as the final G file's. The G files' steps are the trainer's steps mapped onto RVC's epoch grid:
epoch = max(1, round(step / steps_per_epoch)), ``G_{epoch * steps_per_epoch}``.

Building takes a few seconds; :func:`build_demo_dir` caches the result keyed by a hash of every
input and rebuilds on any change.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
AUDIO_DIR = DATA / "ljspeech"
NAME = "healthy"
ENC_Q_SEED = 1234
BATCH_SIZE = 4
SR = 48000
HOP = 480
#: the model's 18-entry config (narrow widths, v2 48k layout)
CONFIG: list[Any] = [1025, 32, 64, 64, 128, 2, 6, 3, 0, "1", [3, 7, 11], [[1, 3, 5]] * 3,
                     [12, 10, 2, 2], 128, [24, 20, 4, 4], 109, 64, 48000]
TRAIN = tuple(f"LJ001-{i:04d}" for i in range(1, 23))
HELD_OUT = ("LJ001-0023", "LJ001-0024")
SLICE_S, OVERLAP_S = 3.7, 0.3
CONTENT: dict[str, Any] = {"extractor": "standin", "dim": 768, "seed": 1234}
_SOURCES = ("build.py",)


def artifact_paths(root: Path = DATA) -> dict[str, Path]:
    return {
        "healthy": root / "healthy.pth",
        "snapshot": root / "snapshot_early.pth",
        "record": root / "training_record.json",
        "f0": root / "f0_pyin.npz",
        "config": root / "config.json",
        "log": root / "train.log",
    }


def content_key(root: Path = DATA) -> str:
    """Hash of everything the folder is built from."""
    from rvcqa.features import standin

    h = hashlib.sha256()
    h.update(f"standin-v{standin.VERSION}".encode())
    files = [*artifact_paths(root).values(), *(Path(__file__).parent / s for s in _SOURCES),
             *(AUDIO_DIR / f"{n}.wav" for n in TRAIN)]
    for p in files:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:20]


# --------------------------------------------------------------------------- audio as the trainer saw it

def resample(x: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    """Polyphase resampling (deterministic, fast); output length ceil(N * to / from)."""
    from scipy.signal import resample_poly

    if sr_from == sr_to:
        return x.astype(np.float32)
    g = math.gcd(sr_from, sr_to)
    return np.asarray(resample_poly(x, sr_to // g, sr_from // g), dtype=np.float32)


def highpass(x: np.ndarray) -> np.ndarray:
    """RVC's preprocess filter: 5th-order Butterworth high-pass at 48 Hz."""
    from scipy import signal

    b, a = signal.butter(N=5, Wn=48, btype="high", fs=SR)
    return np.asarray(signal.lfilter(b, a, x), dtype=np.float32)


def scale(x: np.ndarray) -> np.ndarray:
    """RVC's slice level: ``x / max|x| * (0.9 * 0.75) + 0.25 * x``."""
    peak = float(np.max(np.abs(x))) or 1.0
    return (x / peak * (0.9 * 0.75) + 0.25 * x).astype(np.float32)


def load_clip48(name: str) -> np.ndarray:
    """A LJ clip at 48 kHz, high-passed (RVC preprocess), not yet level-scaled."""
    import soundfile as sf

    x, sr = sf.read(str(AUDIO_DIR / f"{name}.wav"), dtype="float32")
    return highpass(resample(x, sr, SR))


def slice_clip(x: np.ndarray) -> list[np.ndarray]:
    """RVC's chunking: 3.7 s pieces starting every 3.4 s; the rest (< 4.0 s) is the last piece."""
    out, i = [], 0
    step, per, tail = int(SR * (SLICE_S - OVERLAP_S)), int(SR * SLICE_S), SLICE_S + OVERLAP_S
    while True:
        start = step * i
        i += 1
        if len(x[start:]) > tail * SR:
            out.append(x[start:start + per])
        else:
            out.append(x[start:])
            break
    return out


def to16k(x48: np.ndarray) -> np.ndarray:
    return resample(x48, SR, 16000)


def training_slices() -> list[tuple[str, np.ndarray]]:
    """``[(stem "{i}_{j}", 48 kHz slice)]``: i = index of the clip in the training list."""
    items = []
    for i, name in enumerate(TRAIN):
        for j, piece in enumerate(slice_clip(load_clip48(name))):
            items.append((f"{i}_{j}", scale(piece)))
    return items


def content_features(x16: np.ndarray) -> np.ndarray:
    from rvcqa.features.standin import StandInContent

    return StandInContent(dim=int(CONTENT["dim"]), seed=int(CONTENT["seed"])).features(x16)


# --------------------------------------------------------------------------- pieces

def training_record(root: Path = DATA) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(artifact_paths(root)["record"].read_text(encoding="utf-8"))
    return data


def load_training_f0(root: Path = DATA) -> dict[str, np.ndarray]:
    """The pyin F0 (Hz, 100 frames/s) the model was trained with, per stem / held-out clip name."""
    with np.load(artifact_paths(root)["f0"], allow_pickle=False) as z:
        return {k[3:]: z[k].astype(np.float64) for k in z.files if k.startswith("f0_")}


def full_state_dict(inference_pth: Path) -> dict[str, Any]:
    """fp32 weights of an inference file plus the deterministic untrained enc_q (560 keys)."""
    import torch

    from rvcqa.checkpoint import load_pth
    from rvcqa.synth import build_synthesizer

    weight = load_pth(inference_pth, mmap=False)["weight"]
    torch.manual_seed(ENC_Q_SEED)
    ref = build_synthesizer(CONFIG, version="v2", f0=True, posterior=True).state_dict()
    return {k: (v.detach().float().clone() if k.startswith("enc_q.") else weight[k].float()) for k, v in ref.items()}


def dummy_discriminator() -> dict[str, Any]:
    """A small deterministic ``discriminators.*`` state dict (RVC naming, tiny shapes)."""
    import torch

    g = torch.Generator().manual_seed(ENC_Q_SEED)
    sd: dict[str, Any] = {}
    for i in range(3):
        for j, (cin, cout) in enumerate(((1, 4), (4, 8))):
            v = torch.randn(cout, cin, 5, 1, generator=g) * 0.1
            sd[f"discriminators.{i}.convs.{j}.bias"] = torch.zeros(cout)
            sd[f"discriminators.{i}.convs.{j}.weight_g"] = v.flatten(1).norm(dim=1).reshape(cout, 1, 1, 1)
            sd[f"discriminators.{i}.convs.{j}.weight_v"] = v
        v = torch.randn(1, 8, 3, 1, generator=g) * 0.1
        sd[f"discriminators.{i}.conv_post.bias"] = torch.zeros(1)
        sd[f"discriminators.{i}.conv_post.weight_g"] = v.flatten(1).norm(dim=1).reshape(1, 1, 1, 1)
        sd[f"discriminators.{i}.conv_post.weight_v"] = v
    return sd


def epoch_grid(step: int, spe: int) -> int:
    return max(1, int(round(step / spe)))


def write_wav(path: Path, x: np.ndarray, sr: int) -> None:
    """scipy's writer, as RVC uses: float32 -> IEEE float WAV."""
    from scipy.io import wavfile

    wavfile.write(str(path), sr, x.astype(np.float32))


def filelist_line(exp: Path, stem: str) -> str:
    base = str(exp.resolve())
    return "|".join([f"{base}/0_gt_wavs/{stem}.wav", f"{base}/3_feature768/{stem}.npy",
                     f"{base}/2a_f0/{stem}.wav.npy", f"{base}/2b-f0nsf/{stem}.wav.npy", "0"])


def mute_line() -> str:
    base = "/rvc/logs/mute"
    return "|".join([f"{base}/0_gt_wavs/mute{SR // 1000}k.wav", f"{base}/3_feature768/mute.npy",
                     f"{base}/2a_f0/mute.wav.npy", f"{base}/2b-f0nsf/mute.wav.npy", "0"])


def steps_per_epoch(exp: Path) -> int:
    """What RVC's bucket sampler gives for this folder's filelist (2 mute lines of length 200)."""
    from rvcqa.trainlog import rvc_bucket_steps

    lengths = []
    for line in (exp / "filelist.txt").read_text(encoding="utf-8").split("\n"):
        stem = line.split("|")[0].rsplit("/", 1)[-1].split(".")[0]
        if stem.startswith("mute"):
            lengths.append(200)  # RVC's mute files: 3 s of int16 silence at any rate
        elif (exp / "0_gt_wavs" / f"{stem}.wav").exists():
            lengths.append((exp / "0_gt_wavs" / f"{stem}.wav").stat().st_size // (3 * HOP))
    return int(rvc_bucket_steps(lengths, BATCH_SIZE, 1)[0])


# --------------------------------------------------------------------------- build

def _build(exp: Path, root: Path) -> None:
    import torch

    from rvcqa.checkpoint import save_training_checkpoint
    from rvcqa.features import f0_frames
    from rvcqa.features.f0 import coarse_pitch

    dirs = {k: exp / k for k in ("0_gt_wavs", "1_16k_wavs", "2a_f0", "2b-f0nsf", "3_feature768")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    f0s = load_training_f0(root)
    stems = []
    for stem, x48 in training_slices():
        x16 = to16k(x48)
        hz = f0s[stem]
        if hz.size != f0_frames(x16.size):
            raise RuntimeError(f"cached F0 for {stem} has {hz.size} frames, the slice needs {f0_frames(x16.size)}: "
                               "the clips or the preprocessing changed since training; retrain")
        write_wav(dirs["0_gt_wavs"] / f"{stem}.wav", x48, SR)
        write_wav(dirs["1_16k_wavs"] / f"{stem}.wav", x16, 16000)
        np.save(dirs["2a_f0"] / f"{stem}.wav.npy", coarse_pitch(hz).astype(np.int64), allow_pickle=False)
        np.save(dirs["2b-f0nsf"] / f"{stem}.wav.npy", hz.astype(np.float64), allow_pickle=False)
        np.save(dirs["3_feature768"] / f"{stem}.npy", content_features(x16), allow_pickle=False)
        stems.append(stem)
    lines = [filelist_line(exp, s) for s in stems] + [mute_line()] * 2
    order = np.random.default_rng(7).permutation(len(lines))
    (exp / "filelist.txt").write_text("\n".join(lines[j] for j in order), encoding="utf-8")
    paths = artifact_paths(root)
    shutil.copyfile(paths["config"], exp / "config.json")
    shutil.copyfile(paths["log"], exp / "train.log")
    (exp / "rvcqa_content.json").write_text(json.dumps(CONTENT) + "\n", encoding="utf-8")

    spe = steps_per_epoch(exp)
    rec = training_record(root)
    e_early = epoch_grid(int(rec["snapshot_step"]), spe)
    e_final = max(epoch_grid(int(rec["best_step"]), spe), e_early + 1)
    shutil.copyfile(paths["healthy"], exp / "healthy.pth")
    torch.manual_seed(0)
    for epoch, src in ((e_early, paths["snapshot"]), (e_final, paths["healthy"])):
        step = epoch * spe
        save_training_checkpoint(exp / f"G_{step}.pth", full_state_dict(src), iteration=epoch)
        save_training_checkpoint(exp / f"D_{step}.pth", dummy_discriminator(), iteration=epoch)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock where the platform has one (two runs building at once share one build)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def build_demo_dir(dest: Path, root: Path = DATA) -> Path:
    """Build (or reuse, when its inputs are unchanged) ``dest/healthy``; return that folder."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    key = content_key(root)
    exp = dest / NAME
    stamp = dest / f"{NAME}.build-key"
    with _locked(dest / f"{NAME}.lock"):
        if exp.is_dir() and stamp.is_file() and stamp.read_text().strip() == key:
            return exp
        # built in place (the filelist's absolute paths name this folder); the stamp is written last
        if exp.exists():
            shutil.rmtree(exp)
        stamp.unlink(missing_ok=True)
        try:
            exp.mkdir()
            _build(exp, root)
        except BaseException:
            shutil.rmtree(exp, ignore_errors=True)
            raise
        stamp.write_text(key + "\n")
    return exp


def cache_root() -> Path:
    env = os.environ.get("RVCQA_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "rvcqa"


def demo_model_dir(progress: bool = False) -> Path:
    """Path of the demo experiment folder (``.../healthy/healthy``), building it if needed."""
    dest = cache_root() / NAME
    stamp = dest / f"{NAME}.build-key"
    fresh = not (stamp.is_file() and stamp.read_text().strip() == content_key())
    if progress and fresh:
        print("rvcqa demo: building the demo model directory (once, a few seconds)...", flush=True)
    return build_demo_dir(dest)
