"""The report's pictures, drawn with matplotlib's Agg canvas (no display, no pyplot state).

matplotlib is a dependency of rvcqa; where it cannot be imported (a broken install)
:func:`available` says why and the report is written without pictures. Each function returns PNG bytes; it raises on bad input and the
renderer turns the error into a sentence in place of the picture.
"""
from __future__ import annotations

import io
import math
from typing import Any, Callable

#: longest stretch of audio drawn (seconds): keeps pictures readable and rendering fast
MAX_SECONDS = 8.0
DPI = 100
COLORS = {"input": "#1f77b4", "output": "#d62728"}


def available() -> tuple[bool, str]:
    """(True, "") when matplotlib can draw; else (False, the reason)."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError as exc:
        return False, f"matplotlib is not installed ({exc.name or exc})"
    except Exception as exc:  # noqa: BLE001 - a broken install
        return False, f"matplotlib cannot be used ({type(exc).__name__}: {exc})"
    return True, ""


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def render(kind: str, args: dict[str, Any]) -> bytes:
    """Dispatch a :class:`~rvcqa.report.blocks.Figure` to its drawing function."""
    table: dict[str, Callable[..., bytes]] = {
        "loss_curves": loss_curves, "spectrograms": spectrograms, "f0_contours": f0_contours,
        "waveforms": waveforms, "png_file": png_file,
    }
    fn = table.get(kind)
    if fn is None:
        raise ValueError(f"unknown picture kind {kind!r}")
    return fn(**args)


def png_file(path: str) -> bytes:
    """A picture another part of rvcqa already drew (e.g. the epoch sweep's plot)."""
    from pathlib import Path

    return Path(path).read_bytes()


# --------------------------------------------------------------------------- training log

def loss_curves(series: dict[str, list[Any]], name: str = "") -> bytes:
    """2x2: loss_mel (healthy band 15-25, RVC's 75 display cap), loss_kl (cap 9), loss_gen, loss_disc."""
    steps = series.get("step") or []
    n = max((len(v) for v in series.values() if isinstance(v, list)), default=0)
    xs = [s if isinstance(s, (int, float)) else None for s in steps] + [None] * (n - len(steps))
    use_steps = sum(1 for x in xs if x is not None) >= max(1, n // 2)
    fig = _figure(11, 6.5)
    axes = fig.subplots(2, 2)
    panels = (("loss_mel", axes[0][0], 75.0), ("loss_kl", axes[0][1], 9.0), ("loss_gen", axes[1][0], None),
              ("loss_disc", axes[1][1], None))
    for key, ax, cap in panels:
        vals = series.get(key) or []
        pts = [((xs[i] if use_steps else i), v) for i, v in enumerate(vals)
               if isinstance(v, (int, float)) and math.isfinite(v) and (not use_steps or xs[i] is not None)]
        ax.set_title(key)
        ax.set_xlabel("step" if use_steps else "log line")
        ax.grid(alpha=0.3)
        if not pts:
            ax.text(0.5, 0.5, f"no {key} in the log", ha="center", va="center", transform=ax.transAxes, color="gray")
            continue
        ax.plot([p[0] for p in pts], [p[1] for p in pts], color="#1f77b4", lw=1.2, marker="." if len(pts) < 60 else None)
        if key == "loss_mel":
            ax.axhspan(15, 25, color="green", alpha=0.12, label="healthy end 15-25")
        if cap is not None and max(p[1] for p in pts) >= cap * 0.9:
            ax.axhline(cap, color="gray", ls="--", lw=0.8, label=f"RVC display cap {cap:g}")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper right", fontsize=8)
    if name:
        fig.suptitle(f"{name}: training losses")
    return _png(fig)


# --------------------------------------------------------------------------- audio

def _load(path: str, max_seconds: float = MAX_SECONDS):
    import numpy as np

    from rvcqa.audio import load_audio

    y, sr = load_audio(path)
    y = np.nan_to_num(y[: int(max_seconds * sr)], nan=0.0, posinf=0.0, neginf=0.0)
    return y, sr


def _spectrogram_db(y: Any, sr: int):
    import numpy as np
    from scipy.signal import stft

    n_fft = 1024 if sr <= 24000 else 2048
    f, t, z = stft(y, fs=sr, nperseg=n_fft, noverlap=n_fft - n_fft // 4, boundary=None)
    power = np.abs(z) ** 2
    return f, t, 10 * np.log10(np.maximum(power, 1e-12))


def spectrograms(input: str, output: str, label_in: str = "input", label_out: str = "output") -> bytes:
    return _png(spectrogram_figure(input, output, label_in, label_out))


def spectrogram_figure(input: str, output: str, label_in: str = "input", label_out: str = "output") -> Any:
    """Input and output spectrograms side by side; a band above a signal's Nyquist is labelled."""
    import numpy as np

    (x, sx), (y, sy) = _load(input), _load(output)
    fx, tx, dx = _spectrogram_db(x, sx)
    fy, ty, dy = _spectrogram_db(y, sy)
    top = max(float(np.max(dx)) if dx.size else 0.0, float(np.max(dy)) if dy.size else 0.0)
    vmin = top - 80.0
    fig = _figure(11, 4.2)
    axes = fig.subplots(1, 2, sharey=True)
    mesh = None
    for ax, (f, t, d, sr, label) in zip(axes, ((fx, tx, dx, sx, label_in), (fy, ty, dy, sy, label_out))):
        if d.size:
            mesh = ax.pcolormesh(t, f / 1000.0, d, shading="auto", vmin=vmin, vmax=top, cmap="magma", rasterized=True)
        ax.set_title(f"{label} ({sr // 1000 if sr >= 1000 else sr} kHz)")
        ax.set_xlabel("time (s)")
    axes[0].set_ylabel("frequency (kHz)")
    top_khz = max(sx, sy) / 2000.0
    axes[0].set_ylim(0, top_khz)
    for ax, sr in zip(axes, (sx, sy)):
        _mark_above_nyquist(ax, sr, top_khz)
    if mesh is not None:
        fig.colorbar(mesh, ax=list(axes), label="dB")
    return fig


def nyquist_note(sr: int) -> str:
    """Why a lower-rate signal's spectrogram is blank at the top: it holds nothing above sr/2."""
    khz = sr / 2000.0
    return f"no content above {khz:g} kHz: {sr / 1000:g} kHz audio (Nyquist {khz:g} kHz)"


def _mark_above_nyquist(ax: Any, sr: int, top_khz: float) -> None:
    """Hatch and label the band a signal at ``sr`` cannot contain, so it does not read as a fault."""
    nyq = sr / 2000.0
    if nyq >= top_khz * 0.999:
        return
    ax.axhspan(nyq, top_khz, facecolor="0.92", edgecolor="0.55", hatch="//", lw=0.0, zorder=0.5)
    ax.text(0.5, (nyq + top_khz) / 2, nyquist_note(sr), transform=ax.get_yaxis_transform(), ha="center",
            va="center", fontsize=9, color="0.25", zorder=3,
            bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85, "edgecolor": "0.6"})


def _f0(y: Any, sr: int):
    """F0 (Hz, NaN where unvoiced) by pYIN at 16 kHz: the tracker the perceptual checks use."""
    import numpy as np

    from rvcqa.metrics.pitch import track_f0

    try:
        track = track_f0(y, sr, name="audio")
    except Exception:  # noqa: BLE001 - silent or too short audio has no contour
        return np.zeros(0), np.zeros(0)
    floor = float(track.settings.get("fmin_hz", 0.0) or 0.0)
    f0 = unvoiced_as_gaps(track.f0_hz, track.voiced, floor_hz=floor)
    return np.arange(len(f0)) * float(track.frame_period_s), f0


def unvoiced_as_gaps(f0_hz: Any, voiced: Any = None, *, floor_hz: float = 0.0) -> Any:
    """F0 with every unvoiced frame as NaN, so a plot shows a gap, never a flat line.

    Unvoiced: the tracker said so (``voiced`` False), F0 <= 0 or not finite (RVC and most
    trackers store 0 there), or F0 pinned at the tracker's search floor ``floor_hz`` (pYIN and
    RMVPE report their lowest candidate, e.g. 50 or 100 Hz, where there is no pitch).
    """
    import numpy as np

    f0 = np.array(f0_hz, dtype=float, copy=True).reshape(-1)
    gap = ~np.isfinite(f0) | (f0 <= 0)
    if voiced is not None:
        gap |= ~np.asarray(voiced, dtype=bool).reshape(-1)
    if floor_hz > 0:
        gap |= f0 <= floor_hz * 1.005
    f0[gap] = np.nan
    return f0


def f0_contours(input: str, output: str, label_in: str = "input", label_out: str = "output") -> bytes:
    return _png(f0_figure(input, output, label_in, label_out))


def f0_figure(input: str, output: str, label_in: str = "input", label_out: str = "output") -> Any:
    """Input and output F0 on one log axis; unvoiced frames are gaps (see :func:`unvoiced_as_gaps`)."""
    import numpy as np

    (x, sx), (y, sy) = _load(input), _load(output)
    tx, fx = _f0(x, sx)
    ty, fy = _f0(y, sy)
    fig = _figure(11, 3.4)
    ax = fig.subplots(1, 1)
    ax.plot(tx, fx, color=COLORS["input"], lw=1.5, label=f"{label_in} ({np.sum(np.isfinite(fx))} voiced frames)")
    ax.plot(ty, fy, color=COLORS["output"], lw=1.2, alpha=0.85,
            label=f"{label_out} ({np.sum(np.isfinite(fy))} voiced frames)")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("F0 (Hz)")
    ax.set_yscale("log")
    ax.set_ylim(50, 1100)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper right", fontsize=8, title="gaps: unvoiced frames (no F0)", title_fontsize=8)
    if not np.any(np.isfinite(fy)) and np.any(np.isfinite(fx)):
        ax.text(0.5, 0.5, "no voiced frames in the output", ha="center", va="center", transform=ax.transAxes,
                color=COLORS["output"])
    return fig


def waveforms(input: str, output: str, label_in: str = "input", label_out: str = "output") -> bytes:
    import numpy as np

    (x, sx), (y, sy) = _load(input), _load(output)
    fig = _figure(11, 3.6)
    axes = fig.subplots(2, 1, sharex=True)
    for ax, (sig, sr, label, color) in zip(axes, ((x, sx, label_in, COLORS["input"]), (y, sy, label_out, COLORS["output"]))):
        step = max(1, len(sig) // 20000)  # a few thousand points suffice for the picture
        t = np.arange(0, len(sig), step) / sr
        ax.plot(t, sig[::step], color=color, lw=0.5)
        peak = float(np.max(np.abs(sig))) if sig.size else 0.0
        rms = float(np.sqrt(np.mean(np.square(sig, dtype=np.float64)))) if sig.size else 0.0
        ax.set_title(f"{label}: peak {peak:.3f}, RMS {rms:.4f}", fontsize=9, loc="left")
        ax.set_ylim(-1.05, 1.05)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("time (s)")
    return _png(fig)
