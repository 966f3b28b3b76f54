"""The cost picture: monthly cost against daily test volume, a line per memory size, the instance flat."""

from __future__ import annotations

from pathlib import Path

from smbundle.cost import MEMORY_SIZES, Prices, Profile, memory_curves


def plot(profile: Profile, prices: Prices, result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    current = profile.peak_per_minute * profile.peak_minutes * profile.runs_per_day
    top = max(current * 2, result["break_even_test_inferences_per_day"] * 1.5, 1000)
    curves = memory_curves(profile, prices, top)
    xs = curves["test_inferences_per_day"]
    instance = result["instance_monthly_usd"]
    figure, axes = plt.subplots(figsize=(9, 5.5), dpi=110)
    for index, memory in enumerate(MEMORY_SIZES):
        ys = curves["serverless_usd"][memory]
        width = 2.6 if memory == profile.memory_mb else 1.2
        (line,) = axes.plot(xs, ys, linewidth=width, label=f"serverless {memory} MB")
        # break-even with the instance, where the line crosses it
        points = list(zip(xs, ys, strict=True))
        for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
            if y0 <= instance < y1:
                x = x0 + (instance - y0) * (x1 - x0) / (y1 - y0)
                axes.plot([x], [instance], "o", color=line.get_color())
                axes.annotate(
                    f"{memory} MB: {x / 1000:,.0f}k/day",
                    (x, instance),
                    textcoords="offset points",
                    xytext=(6, -14 - 11 * index),
                    fontsize=8,
                    color=line.get_color(),
                )
                break
    axes.axhline(
        instance, color="black", linestyle="--", label=f"{profile.instance_type} x{profile.instance_count}"
    )
    axes.axvline(current, color="grey", linestyle=":", label=f"this profile: {current:,.0f} test calls/day")
    axes.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v / 1000:,.0f}k"))
    axes.set_xlabel("test inferences per day (break-even with the instance marked)")
    axes.set_ylabel(f"USD per {profile.days:g}-day month")
    axes.set_title(
        f"Serverless staging vs instance ({profile.region}, {profile.seconds_per_inference:g} s per inference, "
        f"{profile.steady_per_hour:g}/h steady)"
    )
    axes.set_ylim(0, instance * 3)
    axes.legend(fontsize=8, loc="upper left")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, format="png")
    plt.close(figure)
