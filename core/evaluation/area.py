"""Area-adjusted accuracy and class areas with 95 % confidence intervals (Olofsson et al. 2014 good practice)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np

from ..markdown_text import md_text

Z95 = 1.959964  # two-sided 95 % normal quantile
M2_PER_HECTARE = 10_000.0
AREA_DISTORTION = 0.01  # a CRS's areas off by more than this share on the map (not UTM's 0.1 %): areas in pixels
log = logging.getLogger("hypersynth")

# Written here, not taken from a library: scikit-learn has no stratified estimator, and the estimators below are
# a few lines of Olofsson, Foody, Herold, Stehman, Woodcock & Wulder (2014), "Good practices for estimating area
# and assessing accuracy of land change", Remote Sensing of Environment 148, 42–57 (eqs. 2–5, 7, 10–11; the map
# classes are the strata). Their variances leave out the finite population correction, right for a sample that is
# a small part of each stratum; here each stratum's term is multiplied by it, (1 − n_i/N_i) (Cochran 1977,
# "Sampling Techniques", eq. 5.6; Stehman 2014), since validation labels may be most of a small map or all of it,
# where the variances are then (near) zero, as they are for a census.


@dataclass
class AreaEstimate:
    """What the map's classes really cover and how accurate the map is, corrected for how much each class maps.

    Valid when the validation pixels are a random sample of the map (simple, or stratified by map class); a few
    brushed polygons are not one, and then these figures only indicate.
    """

    class_ids: list[int]  # K class ids (the confusion matrix's order)
    class_names: list[str]  # K names
    mapped_pixels: np.ndarray  # (K,) pixels the map gives each class
    samples: np.ndarray  # (K,) validation pixels on each map class (the strata's sample sizes)
    sampled_share: float  # the validation pixels' share of the mapped pixels they lie on, 0..1 (1: a census)
    unit: str  # "ha" when the map's pixels have a size in metres, else "pixels"
    unit_per_pixel: float  # one pixel in ``unit``
    oa: float  # area-adjusted overall accuracy, 0..1
    oa_ci: float  # its 95 % half-width
    users: np.ndarray  # (K,) user's accuracy (map class i is right), 0..1
    users_ci: np.ndarray  # (K,) 95 % half-widths
    producers: np.ndarray  # (K,) area-adjusted producer's accuracy (true class j is mapped as j), 0..1; NaN for a
    # class the map gives but no point scored (its own stratum unknown)
    producers_ci: np.ndarray  # (K,)
    area: np.ndarray  # (K,) estimated area of each true class, in ``unit``
    area_ci: np.ndarray  # (K,) 95 % half-widths, in ``unit``
    unsampled: list[str]  # names of mapped classes without a validation pixel (the estimate cannot see them)
    quantity_disagreement: float = math.nan  # 0..1, Pontius & Millones 2011, on the estimated proportions p_ij
    allocation_disagreement: float = math.nan  # 0..1; with the quantity, 1 − the area-adjusted OA
    single: list[str] = field(default_factory=list)  # names of map classes with one validation pixel: a stratum's
    # variance needs two, so the intervals its term enters (OA, every area, every producer's accuracy) are not given
    sample: Optional[str] = None  # the validation points' design where they are a sample drawn from this map's grid
    # (:func:`.sampling.sample_validation`): the figures then hold, and the wording says so
    sample_problem: Optional[str] = None  # why points drawn as such a sample cannot be estimated as one here
    sample_points: int = 0  # points the design drew (their labelled share is said beside the figures)
    strata_map: Optional[str] = None  # the map whose classes are the strata, where not this one (Stehman 2014)
    unsampled_strata: list[str] = field(default_factory=list)  # that map's classes without a scored point
    covered_share: float = 1.0  # the share of that map's pixels in the strata with scored points
    sample_left_out: int = 0  # the sample's labelled points left out as pixels the classifier learnt from
    proportions: Optional[np.ndarray] = None  # (K, K) estimated area proportions p_ij, rows: map class i, columns:
    # reference class j (Olofsson et al. 2014's table 9: the error matrix they advise reporting); None for Stehman's

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN becomes None)."""
        def num(value: float) -> Optional[float]:
            return None if not math.isfinite(value) else float(value)

        return {
            "method": (f"Stehman 2014, strata = the classes of {self.strata_map}" if self.strata_map else
                       "Olofsson et al. 2014, strata = map classes"), "unit": self.unit,
            "oa": num(self.oa), "oa_ci95": num(self.oa_ci), "unsampled_map_classes": list(self.unsampled),
            "quantity_disagreement": num(self.quantity_disagreement),
            "allocation_disagreement": num(self.allocation_disagreement),
            "sampled_share_of_map": num(self.sampled_share), "finite_population_correction": True,
            "classes_validation_pixels": "those on what the map calls the class (the stratum's sample; the top-level "
                                         "classes count those of the reference class)",
            "map_classes_with_one_validation_pixel": list(self.single),
            **({"error_matrix_proportions": [[float(v) for v in row] for row in self.proportions],
                "error_matrix_rows": "map class", "error_matrix_columns": "reference class"}
               if self.proportions is not None else {}),
            "validation_sample": self.sample, "validation_sample_problem": self.sample_problem,
            **({"sample_points": int(self.sample_points)} if self.sample else {}),
            **({"unsampled_strata": list(self.unsampled_strata), "covered_share_of_strata": num(self.covered_share)}
               if self.unsampled_strata else {}),
            **({"sample_points_left_out_as_training": int(self.sample_left_out)} if self.sample_left_out else {}),
            "classes": [{"id": int(c), "name": n, "mapped_pixels": int(m), "validation_pixels": int(s),
                         "mapped_area": num(m * self.unit_per_pixel), "estimated_area": num(a),
                         "estimated_area_ci95": num(ac), "users_accuracy": num(u), "users_accuracy_ci95": num(uc),
                         "producers_accuracy": num(p), "producers_accuracy_ci95": num(pc)}
                        for c, n, m, s, a, ac, u, uc, p, pc in zip(
                            self.class_ids, self.class_names, self.mapped_pixels, self.samples, self.area,
                            self.area_ci, self.users, self.users_ci, self.producers, self.producers_ci)],
        }

    def holds(self) -> bool:
        """Whether the validation points are a stratified random sample these figures hold for (then they, not the
        points' own counts, estimate the map's accuracy)."""
        return bool(self.sample) and not self.sample_problem

    def headline(self) -> str:
        """The adjusted OA with its interval, for the line that leads where the sample holds (:meth:`..metrics.
        Evaluation.headline`)."""
        method = f"Stehman 2014, {self.strata_map}'s classes as strata" if self.strata_map else "Olofsson et al. 2014"
        interval = "± the 95 % confidence interval; " if math.isfinite(self.oa_ci) else ""
        covered = self._coverage()  # a part of the map left out is said with the figure, wherever it is quoted
        return (f"Area-adjusted OA {_pm(self.oa * 100, self.oa_ci * 100, 2)} % ({interval}the validation points are a "
                f"stratified random sample, {method}{'; ' + covered if covered else ''})")

    def _coverage(self) -> str:
        """What part of the map the figures cover where some of it has no scored point ("" where they cover it)."""
        if self.unsampled:  # the estimates cover the sampled strata only
            share = self.mapped_pixels[self.samples > 0].sum() / max(int(self.mapped_pixels.sum()), 1)
            return (f"over the map classes with validation pixels, {_share_text(share)} of the mapped area: "
                    f"{', '.join(self.unsampled)} {'has' if len(self.unsampled) == 1 else 'have'} none")
        if self.unsampled_strata:
            return (f"over the strata with validation points, {_share_text(self.covered_share)} of "
                    f"{self.strata_map}'s classified area: its {', '.join(self.unsampled_strata)} "
                    f"{'has' if len(self.unsampled_strata) == 1 else 'have'} none")
        return ""

    def to_markdown(self, led: bool = False) -> str:
        """A line with the adjusted OA, a table per class, and what the figures assume; ``led``: the adjusted OA
        already leads the text above (:meth:`headline`), so the line splits its error only, without repeating it."""
        unit = self.unit
        digits = 1 if unit == "ha" else 0
        covered = self._coverage()  # said beside the figure, not under it
        covered = f"; {covered}" if covered else ""
        if self.sample and self.strata_map:
            sampled = (f"the validation points are a stratified random sample of {self.strata_map}; Stehman 2014, "
                       f"{self.strata_map}'s classes as strata")
        elif self.sample:
            sampled = "the validation points are a stratified random sample of this map; Olofsson et al. 2014, the " \
                "map classes as strata"
        else:  # the condition first: a ± of reference pixels left over from training labels looks authoritative
            sampled = ("an indication only: these figures hold for a random sample of the map, which "
                       + ("these points are not for this map, as said below" if self.sample_problem else
                          "nothing here says the validation pixels are: reference pixels left over from training "
                          "labels and brushed polygons are not one")
                       + "; Olofsson et al. 2014, the map classes as strata")
        interval = "± the 95 % confidence interval; " if math.isfinite(self.oa_ci) else ""
        split = (f"{self.quantity_disagreement * 100:.2f} points are quantity and "
                 f"{self.allocation_disagreement * 100:.2f} allocation disagreement.")
        part = " (over the part of the map it names)" if covered else ""
        first = (f"Of the {(1 - self.oa) * 100:.2f} % of the map mapped wrong by the area-adjusted OA above{part}, "
                 f"{split}" if led else
                 f"Area-adjusted OA {_pm(self.oa * 100, self.oa_ci * 100, 2)} % ({interval}{sampled}{covered}); "
                 f"of the rest, {split}")
        lines = [first, "",
                 f"| id | class | mapped ({unit}) | estimated area"
                 f"{' within the sampled map classes' if self.unsampled or self.unsampled_strata else ''} ({unit}) | "
                 "producer's acc. (%) | "
                 "user's acc. (%) |",
                 "|---:|---|---:|---:|---:|---:|"]
        census = self.sampled_share >= 1.0
        cells = []
        for k, (c, name) in enumerate(zip(self.class_ids, self.class_names)):
            # a mapped class without a validation pixel: its area is unknown, not 0 ± 0 (review: it invited quoting)
            area = "–" if name in self.unsampled else _pm(self.area[k], self.area_ci[k], digits, True, census)
            cells.append(f"| {c} | {md_text(name)} | {self.mapped_pixels[k] * self.unit_per_pixel:,.{digits}f} | "
                         f"{area} | {_pm(self.producers[k] * 100, self.producers_ci[k] * 100, 1, False, census)} | "
                         f"{_pm(self.users[k] * 100, self.users_ci[k] * 100, 1, False, census)} |")
        lines += cells
        fewest = int(self.samples[self.samples > 0].min()) if (self.samples > 0).any() else 0
        zero = (f" * A ± 0.0 from a sample is no certainty: where every sampled point of a class agreed, the normal "
                f"approximation has no width, and the truth may lie well outside it (with n points all right, the "
                f"95 % Clopper–Pearson lower bound of a user's accuracy is 0.025^(1/n): "
                f"{100 * 0.025 ** (1 / max(fewest, 1)):.0f} % for this sample's smallest class of {fewest}, "
                f"93 % for 50); label more points there." if any(ZERO_MARK in cell for cell in cells) else "")
        lines += ["", f"The validation pixels are {self.sampled_share * 100:.1f} % of the map's pixels in the classes "
                  "they fall on; the intervals include the finite population correction, so they shrink to 0 as the "
                  "validation labels cover the whole map (a census has no sampling error)." + zero + " "
                  + self._holds()]
        lines += self._proportions_table()
        more = ("label its points there (or draw a larger sample): labels added beside the sample would make it "
                "none" if self.sample else "add validation pixels there")
        if self.unsampled:
            lines.append(f"No validation pixel lies on the map's {', '.join(self.unsampled)}: what the map calls "
                         f"that is left out of the estimates; {more}.")
        if self.unsampled_strata:
            lines.append(f"No labelled validation point lies in {self.strata_map}'s "
                         f"{', '.join(self.unsampled_strata)}, a stratum of the sample: its pixels are left out of the "
                         "estimates; label its points.")
        if self.single and self.strata_map:
            lines.append(f"Only one labelled validation point lies in {self.strata_map}'s {', '.join(self.single)}, a "
                         "stratum of the sample: a stratum's variance needs at least two, so no interval is given; "
                         "label more of its points.")
        elif self.single:
            lines.append(f"Only one validation pixel lies on the map's {', '.join(self.single)}: a map class's "
                         "variance needs at least two (Olofsson et al. 2014 advise 50 or more a class), so no interval "
                         f"is given for the OA, the areas and the producer's accuracies, which all depend on it; "
                         f"{more}.")
        return "\n".join(lines) + "\n"


    def _proportions_table(self) -> list[str]:
        """The error matrix as estimated area proportions (%), map classes as rows, with their totals: what
        Olofsson et al. (2014) advise reporting beside the sample counts."""
        if self.proportions is None or not self.proportions.size:
            return []
        k = len(self.class_ids)
        mapped, true = self.proportions.sum(axis=1), self.proportions.sum(axis=0)
        lines = ["", "The error matrix as estimated shares of the map's area (%; Olofsson et al. 2014's p̂ᵢⱼ), map "
                 "classes as rows, reference classes as columns; the diagonal adds up to the area-adjusted OA.", "",
                 "| map \\ reference | " + " | ".join(md_text(n) for n in self.class_names) + " | total |",
                 "|---|" + "---:|" * (k + 1)]
        for i, name in enumerate(self.class_names):
            lines.append(f"| {md_text(name)} | " + " | ".join(f"{100 * v:.2f}" for v in self.proportions[i])
                         + f" | {100 * mapped[i]:.2f} |")
        lines.append("| total | " + " | ".join(f"{100 * v:.2f}" for v in true) + f" | {100 * true.sum():.2f} |")
        return lines + [""]

    def _holds(self) -> str:
        """When the figures hold: always said, and where the validation points' design is known, whether it does."""
        if self.sample:
            labelled = int(self.samples.sum())
            missing = max(self.sample_points - labelled - self.sample_left_out, 0)
            left = (f" {labelled:,} of its {self.sample_points:,} points are labelled and scored."
                    if labelled < self.sample_points else "")
            if missing:
                left += (f" {missing:,} {'is' if missing == 1 else 'are'} not labelled (or not on a classified "
                         "pixel) and left out, which holds if that has nothing to do with their class.")
            if self.sample_left_out:
                n = self.sample_left_out
                left += (f" {n:,} labelled {'point lies on a pixel' if n == 1 else 'points lie on pixels'} the "
                         f"classifier learnt from and {'is' if n == 1 else 'are'} left out: such pixels are mostly "
                         "mapped right, so the accuracy is, if anything, a little understated.")
            if self.unsampled or self.unsampled_strata:
                left += " The figures cover the strata with labelled points only (above)."
            strata = (f" Its strata are {self.strata_map}'s classes, not this map's: the figures are Stehman's (2014) "
                      "estimators for strata other than the map classes, so one sample assesses several maps of the "
                      "same grid." if self.strata_map else "")
            return f"The validation points are {self.sample}: a random sample, so these figures hold.{strata}{left}"
        if self.sample_problem:
            return (f"The validation points were drawn as a stratified random sample, but {self.sample_problem}, so "
                    "the figures are computed as if the map's classes were the strata, and only indicate; draw a "
                    "sample of this map (hypersynth sample-validation; Processing: Draw validation sample).")
        return ("These figures hold when the validation pixels are a random sample of the map (simple, or stratified "
                "by map class); labels brushed where a class is easy to see are not a random sample, and then the "
                "figures only indicate (draw one: hypersynth sample-validation; Processing: Draw validation sample).")


def _share_text(share: float) -> str:
    """A share as a percentage that never rounds a part to the whole: 99.6 % stays under 100 %."""
    return f"{share * 100:.0f} %" if share >= 1 or share * 100 < 99.5 else f"{share * 100:.1f} %"


ZERO_MARK = " *"  # after a ± that rounds to 0 from a sample (not a census): the table's note says what it means


def _pm(value: float, half: float, digits: int, thousands: bool = False, census: bool = True) -> str:
    """``value ± half`` to ``digits``; ``census``: the validation covers the map, so a ± 0 is exact (else it is
    marked with :data:`ZERO_MARK`)."""
    if not math.isfinite(value):
        return "–"
    text = f"{value:,.{digits}f}" if thousands else f"{value:.{digits}f}"
    if not math.isfinite(half):
        return text
    text += f" ± {half:,.{digits}f}" if thousands else f" ± {half:.{digits}f}"
    return text + ("" if census or round(half, digits) > 0 else ZERO_MARK)


def area_estimate(confusion: np.ndarray, class_ids: Sequence[int], class_names: Sequence[str],
                  mapped_pixels: Sequence[int], unit: str = "pixels", unit_per_pixel: float = 1.0) -> AreaEstimate:
    """Stratified estimators of accuracy and area from a confusion matrix and the map's class counts.

    Args:
        confusion: ``(K, K)`` validation pixel counts, rows = true class, columns = map class.
        class_ids, class_names: the K classes, in the matrix's order.
        mapped_pixels: ``(K,)`` pixels the whole map gives each class (0 for a class it never maps).
        unit, unit_per_pixel: the area unit and one pixel's area in it.
    """
    n = np.asarray(confusion, dtype=np.float64).T  # (K, K) rows = map class i (the stratum), columns = true j
    mapped = np.asarray(mapped_pixels, dtype=np.float64)
    if n.shape != (len(class_ids), len(class_ids)) or mapped.shape != (len(class_ids),):
        raise ValueError(f"confusion {n.shape} and mapped_pixels {mapped.shape} must match the "
                         f"{len(class_ids)} classes")
    samples = n.sum(axis=1)  # n_i.
    sampled = samples > 0
    fpc = np.where(sampled, np.clip(1.0 - samples / np.maximum(mapped, 1.0), 0.0, 1.0), 1.0)  # 1 − n_i/N_i
    total = mapped[sampled].sum()  # the estimate covers the sampled strata only (the unsampled are said)
    weight = np.where(sampled, mapped / max(total, 1.0), 0.0)  # W_i
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(sampled[:, None], n / samples[:, None], 0.0)  # n_ij / n_i.
        p = weight[:, None] * share  # estimated proportions p_ij (eq. 4)
        # the variances need two pixels in a stratum, but for a census (every pixel of it sampled: a class mapped on
        # one pixel gets its one point), whose terms are 0 by its finite population correction
        census = sampled & (samples >= mapped)
        dof = np.where(samples > 1, samples - 1, np.where(census, 1.0, np.nan))
        users = np.where(sampled, np.diag(share), np.nan)  # eq. 2
        users_var = fpc * users * (1 - users) / dof  # eq. 5, with the stratum's finite population correction
        oa = float(np.trace(p))
        oa_var = float(np.nansum(weight[sampled] ** 2 * users_var[sampled]))  # eq. 5
        column = p.sum(axis=0)  # p_.j, the true classes' area proportions
        producers = np.diag(p) / column  # eq. 3
        # a class the map gives but no point scored: its own stratum is unknown, so its producer's accuracy is too
        # (p_jj is 0 only because its stratum was left out)
        producers[(mapped > 0) & ~sampled] = np.nan
        area_var = np.nansum(fpc[:, None] * (weight[:, None] * p - p ** 2) / dof[:, None], axis=0)  # eq. 10
        estimated_n = mapped[:, None] * share  # N̂_ij: the map's pixels of map class i that are truly j
        n_true = estimated_n.sum(axis=0)  # N̂_.j
        producers_var = np.empty_like(producers)
        for j in range(len(class_ids)):  # eq. 7
            others = [i for i in range(len(class_ids)) if i != j and sampled[i]]
            own = mapped[j] ** 2 * (1 - producers[j]) ** 2 * users_var[j] if sampled[j] else 0.0
            rest = sum(mapped[i] ** 2 * fpc[i] * share[i, j] * (1 - share[i, j]) / dof[i] for i in others)
            producers_var[j] = (own + producers[j] ** 2 * rest) / n_true[j] ** 2
    ci = Z95 * np.sqrt(np.maximum(area_var, 0.0)) * total * unit_per_pixel
    quantity, allocation = disagreement(p.T) if total > 0 else (math.nan, math.nan)  # rows: the truth
    single = sampled & (samples < 2) & ~census  # a stratum whose variance is unknown: every interval it enters too
    oa_ci = math.nan if single.any() else Z95 * math.sqrt(oa_var)
    if single.any():
        ci[:] = math.nan
        producers_var[:] = math.nan
    return AreaEstimate(
        class_ids=[int(c) for c in class_ids], class_names=list(class_names), mapped_pixels=mapped.astype(np.int64),
        samples=samples.astype(np.int64), sampled_share=float(samples[sampled].sum() / max(total, 1.0)),
        unit=unit, unit_per_pixel=float(unit_per_pixel),
        oa=oa, oa_ci=oa_ci, users=users,
        quantity_disagreement=quantity, allocation_disagreement=allocation, users_ci=Z95 * np.sqrt(users_var),
        producers=producers, producers_ci=Z95 * np.sqrt(producers_var),
        area=column * total * unit_per_pixel, area_ci=ci,
        unsampled=[name for name, m, s in zip(class_names, mapped, sampled) if m > 0 and not s],
        single=[name for name, one in zip(class_names, single) if one], proportions=p)


def sample_strata_estimate(strata: np.ndarray, mapped: np.ndarray, truth: np.ndarray, stratum_pixels: dict[int, int],
                           class_ids: Sequence[int], class_names: Sequence[str], mapped_pixels: Sequence[int],
                           unit: str = "pixels", unit_per_pixel: float = 1.0,
                           stratum_names: Optional[dict[int, str]] = None) -> AreaEstimate:
    """The figures of :func:`area_estimate` from a stratified random sample whose strata are not this map's classes
    (another map's, from which the points were drawn): Stehman (2014), "Estimating area and map accuracy for
    stratified random sampling when the strata are different from the map classes", IJRS 35(13), 4923–4939: each
    figure is a stratified total or a ratio of two, with the stratified variance or the linearised ratio variance,
    and each stratum's finite population correction as :func:`area_estimate` applies it. Where the strata are this
    map's classes it gives :func:`area_estimate`'s figures (a test holds it to Olofsson et al.'s example). Written
    here for the reason :func:`area_estimate` is.

    Args:
        strata, mapped, truth: ``(n,)`` each scored point's stratum, class on this map and reference class.
        stratum_pixels: each stratum's pixels (``N_h``); strata without a scored point are left out of the estimate
            (named in ``unsampled``, their share of the pixels left out of ``covered_share``).
        class_ids, class_names, mapped_pixels: as :func:`area_estimate`'s (the table's rows, this map's counts).
        stratum_names: what the strata are called (the sampled map's class names), for the notes.
    """
    strata, mapped, truth = (np.asarray(a, dtype=np.int64) for a in (strata, mapped, truth))
    sampled = sorted(int(h) for h in np.unique(strata))
    sizes = np.array([float(stratum_pixels[h]) for h in sampled])  # (S,) N_h
    counts = np.array([float((strata == h).sum()) for h in sampled])  # (S,) n_h
    fpc = np.clip(1.0 - counts / sizes, 0.0, 1.0)
    total = float(sizes.sum())  # the pixels the sampled strata cover
    members = [strata == h for h in sampled]

    def estimate(y: np.ndarray) -> float:  # the stratified total Ŷ = Σ N_h ȳ_h
        return float(sum(size * y[m].mean() for size, m in zip(sizes, members)))

    def variance(d: np.ndarray) -> float:  # Σ N_h² (1 − n_h/N_h) s²_dh / n_h: of Ŷ for d = y, of X̂·R̂ for d = y − R̂x
        terms = [np.var(d[m], ddof=1) / n if n > 1 else 0.0 if n >= size else math.nan  # a census: no error
                 for m, n, size in zip(members, counts, sizes)]
        return float(np.sum(sizes ** 2 * fpc * np.array(terms)))

    def ratio(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:  # R̂ = Ŷ / X̂ and its linearised variance
        x_total = estimate(x)
        if x_total <= 0:
            return math.nan, math.nan
        r = estimate(y) / x_total
        return r, variance(y - r * x) / x_total ** 2

    k = len(class_ids)
    p = np.array([[estimate((mapped == i) & (truth == j)) / total for j in class_ids] for i in class_ids])  # p_ij
    right = (mapped == truth).astype(np.float64)
    oa, oa_var = estimate(right) / total, variance(right) / total ** 2
    users, users_var, producers, producers_var = (np.full(k, math.nan) for _ in range(4))
    area, area_var = np.zeros(k), np.zeros(k)
    for c, class_id in enumerate(class_ids):
        on_map, is_true = (mapped == class_id).astype(float), (truth == class_id).astype(float)
        users[c], users_var[c] = ratio(on_map * is_true, on_map)
        producers[c], producers_var[c] = ratio(on_map * is_true, is_true)
        area[c], area_var[c] = estimate(is_true), variance(is_true)
        if not on_map.any() and mapped_pixels[c] > 0:  # mapped, but no point on it: its producer's accuracy is
            producers[c] = producers_var[c] = math.nan  # unknown, not a certain 0 (as area_estimate says it)
    single = (counts < 2) & (counts < sizes)  # one point in a stratum of more pixels: its variance is unknown
    quantity, allocation = disagreement(p.T)
    strata_named = stratum_names or {}
    return AreaEstimate(
        class_ids=[int(c) for c in class_ids], class_names=list(class_names),
        mapped_pixels=np.asarray(mapped_pixels, dtype=np.int64),
        samples=np.array([int((mapped == c).sum()) for c in class_ids], dtype=np.int64),
        sampled_share=float(counts.sum() / max(total, 1.0)), unit=unit, unit_per_pixel=float(unit_per_pixel),
        oa=oa, oa_ci=Z95 * math.sqrt(oa_var) if math.isfinite(oa_var) else math.nan,
        users=users, users_ci=Z95 * np.sqrt(users_var), producers=producers, producers_ci=Z95 * np.sqrt(producers_var),
        area=area * unit_per_pixel, area_ci=Z95 * np.sqrt(area_var) * unit_per_pixel, unsampled=[],
        quantity_disagreement=quantity, allocation_disagreement=allocation,
        single=[strata_named.get(h, f"class {h}") for h, one in zip(sampled, single) if one],
        unsampled_strata=[strata_named.get(h, f"class {h}") for h, n in sorted(stratum_pixels.items())
                          if n > 0 and h not in sampled],
        covered_share=total / max(float(sum(stratum_pixels.values())), 1.0))


def disagreement(confusion: np.ndarray) -> tuple[float, float]:
    """Quantity and allocation disagreement (Pontius & Millones 2011, eqs. 2–7) of a ``(K, K)`` confusion matrix of
    counts or proportions (rows: the reference, columns: the map): ``Q = ½ Σ_g |p_g+ − p_+g|``, ``A = Σ_g
    min(p_g+ − p_gg, p_+g − p_gg)``; they add up to 1 − OA. Written here: scikit-learn has neither."""
    p = np.asarray(confusion, dtype=np.float64)
    p = p / p.sum()
    reference, mapped, agreed = p.sum(axis=1), p.sum(axis=0), np.diag(p)
    quantity = 0.5 * float(np.abs(reference - mapped).sum())
    allocation = float(np.minimum(reference - agreed, mapped - agreed).sum())
    return quantity, allocation


def pixel_area_unit(transform: Sequence[float], crs_wkt: Optional[str], shape: Optional[tuple[int, int]] = None,
                    warn: bool = True) -> tuple[str, float]:
    """``("ha", hectares per pixel)`` when the grid is in metres of a CRS that keeps areas near true over the grid
    (``shape``: its rows and columns; without it, at its origin), else ``("pixels", 1.0)`` (:func:`grid_area`); a
    CRS that does not keep areas is said in a warning (``warn``)."""
    unit, per_pixel, distorted = grid_area(transform, crs_wkt, shape)
    if distorted and warn:
        log.warning("%s, so areas are given in pixels, not hectares; reproject the map to an equal-area or UTM CRS "
                    "(gdalwarp -t_srs EPSG:…) for hectares", distorted)
    return unit, per_pixel


def grid_area(transform: Sequence[float], crs_wkt: Optional[str],
              shape: Optional[tuple[int, int]] = None) -> tuple[str, float, str]:
    """``(unit, one pixel in it, why no hectares)``: ``("ha", hectares per pixel, "")`` on a grid in metres (a
    pixel's area is the determinant of the geotransform's matrix: a rotated grid's too); ``("pixels", 1.0, why)``
    where its CRS's areas are off by more than :data:`AREA_DISTORTION` somewhere on it (Web Mercator: 2.7× at
    52.4° N; ``why``: "the map's CRS (EPSG:3857) does not keep areas: a pixel of 100 m² by its size covers 37.3 m² on
    the ground here"); ``("pixels", 1.0, "")`` without a CRS in metres."""
    if not crs_wkt:
        return "pixels", 1.0, ""
    try:
        from rasterio.crs import CRS

        crs = CRS.from_wkt(crs_wkt)
        metres = crs.is_projected and (crs.linear_units or "").lower() in ("metre", "meter", "m")
    except Exception:  # noqa: BLE001 (an unreadable CRS: areas in pixels, never a failed assessment)
        return "pixels", 1.0, ""
    if not metres:
        return "pixels", 1.0, ""
    a, b, d, e = (float(transform[i]) for i in (1, 2, 4, 5))
    square_metres = abs(a * e - b * d)
    scales = areal_scales(transform, crs_wkt, shape)
    if scales is None or max(abs(v - 1.0) for v in scales) <= AREA_DISTORTION:
        return "ha", square_metres / M2_PER_HECTARE, ""

    def m2(value: float) -> str:
        return f"{value:,.1f}".removesuffix(".0") if value >= 10 else f"{value:.3g}"

    low, high = m2(square_metres / max(scales)), m2(square_metres / min(scales))
    return "pixels", 1.0, (f"the map's CRS ({crs.to_string() or 'its CRS'}) does not keep areas: a pixel of "
                           f"{m2(square_metres)} m² by its size covers {low if low == high else f'{low}–{high}'} m² "
                           "on the ground here")


def areal_scales(transform: Sequence[float], crs_wkt: str,
                 shape: Optional[tuple[int, int]] = None) -> Optional[list[float]]:
    """The CRS's areal scale factor (map area over ground area) at the grid's corners and centre (its origin
    without ``shape``), from PROJ (pyproj, which QGIS and rasterio's PROJ come with); None where PROJ cannot say."""
    try:
        from pyproj import CRS as ProjCRS, Proj, Transformer

        rows, cols = shape if shape is not None else (0, 0)
        at = [(0, 0), (cols, 0), (0, rows), (cols, rows), (cols / 2, rows / 2)]  # (column, row) pixel-edge positions
        xs = [transform[0] + c * transform[1] + r * transform[2] for c, r in at]
        ys = [transform[3] + c * transform[4] + r * transform[5] for c, r in at]
        crs = ProjCRS.from_wkt(crs_wkt)
        lon, lat = Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True).transform(xs, ys)
        scales = [float(v) for v in Proj(crs).get_factors(lon, lat).areal_scale]
    except Exception:  # noqa: BLE001 (PROJ missing or the CRS beyond it: the grid's own size is taken as true)
        return None
    finite = [v for v in scales if math.isfinite(v) and v > 0]
    return finite or None
