"""What HyperSynth knows about each benchmark scene: files, checksums, download addresses, classes, prompts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..demo import DEMO_CLASSES

# The standard benchmark files live on the EHU Computational Intelligence Group wiki (MediaWiki uploads).
EHU = "https://www.ehu.eus/ccwintco/uploads"
EHU_PAGE = "https://www.ehu.eus/ccwintco/index.php/Hyperspectral_Remote_Sensing_Scenes"
# EnMAP-Box SpecDeepMap test tiles cut from the EnMAP L2A Potsdam example scene.
ENMAP_TILES = ("https://raw.githubusercontent.com/EnMAP-Box/enmap-box/main/"
               "tests/testdata/external/specdeepmap/test_requierments")
PEKALAM = ("https://raw.githubusercontent.com/pekalam/hyperspectral-segmentation/"
           "0598e18f713d4f7017672c13d5cc34e25a3ad362")
ZHU_UNMIXING_PAGE = "https://rslab.ut.ac.ir/data (Jasper Ridge, Samson; F. Zhu's unmixing benchmarks)"


@dataclass(frozen=True)
class DatasetFile:
    """One file of a dataset, as it sits in ``<data dir>/<dataset key>/``."""

    name: str  # path inside the dataset folder, e.g. "Indian_pines_gt.mat" or "images/tile_64_0.tif"
    role: str  # what the loader reads it for: cube, gt, abundances, header, image_tile, label_tile
    sha256: Optional[str] = None  # expected lowercase hex digest; None where no reference copy is known
    size: Optional[int] = None  # expected size in bytes; None where unknown
    urls: tuple[str, ...] = ()  # public download addresses, tried in order; () = users fetch it by hand
    required: bool = True  # False for an alternative source the loader prefers when it is present


@dataclass(frozen=True)
class DatasetSpec:
    """A benchmark scene: where its files come from and how to turn them into a labelled scene."""

    key: str  # short name used on the command line and as the data sub-folder
    title: str  # what the analyst reads in lists and reports
    sensor: str  # instrument, date, spectral range, ground sampling distance
    files: tuple[DatasetFile, ...]  # every file the loader reads (empty for generated scenes)
    cube_key: Optional[str]  # variable holding the cube in a .mat file; None for GeoTIFF/ENVI cubes
    gt_key: Optional[str]  # variable holding the label map (or abundances) in a .mat file
    class_names: dict[int, str]  # label id -> class name, as in the ground truth
    prompts: dict[int, str]  # label id -> short description an analyst would write, for synthesis
    shape: tuple[int, int, int]  # (rows, cols, bands) of the loaded scene, after band removal
    labelled: Optional[int] = None  # labelled pixels in the training label map, when fixed
    test_gt_key: Optional[str] = None  # variable holding the official held-out test labels, if any
    drop_bands: tuple[int, ...] = ()  # 1-based bands of the cube file that the loader removes
    bad_bands: tuple[int, ...] = ()  # 1-based bands (after removal) kept but flagged bad
    sensor_bands: Optional[int] = None  # bands of the full sensor product the file's bands are counted in
    file_bands: Optional[tuple[int, ...]] = None  # 1-based sensor bands present in the cube file; None = all
    wavelength_range_nm: Optional[tuple[float, float]] = None  # first/last centre over sensor_bands, evenly spaced
    wavelengths_exact: bool = False  # True when the even spacing is the sensor's own, False for an approximation
    min_abundance: Optional[float] = None  # unmixing scenes: a pixel gets a class only when its top abundance >= this
    get_from: str = ""  # where users obtain files that cannot be downloaded automatically
    notes: str = ""  # band handling, provenance and caveats an analyst should know

    def class_ids(self) -> list[int]:
        return sorted(self.class_names)

    def nominal_wavelengths(self) -> Optional[np.ndarray]:
        """Centre wavelengths (nm) of the cube file's bands from the nominal sensor grid, or None.

        Used only when the file itself carries no wavelengths (.mat cubes).
        """
        if self.wavelength_range_nm is None or self.sensor_bands is None:
            return None
        grid = np.linspace(*self.wavelength_range_nm, self.sensor_bands)  # (sensor_bands,)
        if self.file_bands is None:
            return grid
        return grid[np.asarray(self.file_bands) - 1]


def bands_except(total: int, *removed: tuple[int, int]) -> tuple[int, ...]:
    """1-based band numbers 1..total without the inclusive ``(first, last)`` ranges in ``removed``."""
    gone = set(band_ranges(*removed))
    return tuple(b for b in range(1, total + 1) if b not in gone)


def band_ranges(*ranges: tuple[int, int]) -> tuple[int, ...]:
    """1-based band numbers of inclusive ``(first, last)`` ranges, e.g. ``((108, 112), (224, 224))``."""
    return tuple(b for first, last in ranges for b in range(first, last + 1))


# --- class names and prompts ---------------------------------------------------------------------------

INDIAN_PINES_CLASSES = {
    1: ("Alfalfa", "alfalfa field"),
    2: ("Corn-notill", "corn field, no tillage, early growth"),
    3: ("Corn-mintill", "corn field, minimum tillage"),
    4: ("Corn", "corn field"),
    5: ("Grass-pasture", "grass pasture"),
    6: ("Grass-trees", "grass with scattered trees"),
    7: ("Grass-pasture-mowed", "mowed grass pasture"),
    8: ("Hay-windrowed", "windrowed hay field"),
    9: ("Oats", "oat field"),
    10: ("Soybean-notill", "soybean field, no tillage"),
    11: ("Soybean-mintill", "soybean field, minimum tillage"),
    12: ("Soybean-clean", "clean tilled soybean field"),
    13: ("Wheat", "wheat field"),
    14: ("Woods", "woods"),
    15: ("Buildings-Grass-Trees-Drives", "buildings with lawns, trees and drives"),
    16: ("Stone-Steel-Towers", "stone and steel towers"),
}
PAVIA_UNIVERSITY_CLASSES = {
    1: ("Asphalt", "asphalt road"),
    2: ("Meadows", "meadow"),
    3: ("Gravel", "gravel"),
    4: ("Trees", "trees"),
    5: ("Painted metal sheets", "painted metal roof sheets"),
    6: ("Bare Soil", "bare soil"),
    7: ("Bitumen", "bitumen roofing"),
    8: ("Self-Blocking Bricks", "self-blocking brick paving"),
    9: ("Shadows", "shadow"),
}
SALINAS_CLASSES = {
    1: ("Brocoli_green_weeds_1", "broccoli field with green weeds"),
    2: ("Brocoli_green_weeds_2", "broccoli field with green weeds, second plot"),
    3: ("Fallow", "fallow field"),
    4: ("Fallow_rough_plow", "fallow field, rough ploughed"),
    5: ("Fallow_smooth", "fallow field, smooth"),
    6: ("Stubble", "stubble field"),
    7: ("Celery", "celery field"),
    8: ("Grapes_untrained", "untrained grape vines"),
    9: ("Soil_vinyard_develop", "vineyard soil, developing vines"),
    10: ("Corn_senesced_green_weeds", "senesced corn with green weeds"),
    11: ("Lettuce_romaine_4wk", "romaine lettuce, 4 weeks"),
    12: ("Lettuce_romaine_5wk", "romaine lettuce, 5 weeks"),
    13: ("Lettuce_romaine_6wk", "romaine lettuce, 6 weeks"),
    14: ("Lettuce_romaine_7wk", "romaine lettuce, 7 weeks"),
    15: ("Vinyard_untrained", "untrained vineyard"),
    16: ("Vinyard_vertical_trellis", "vineyard on vertical trellis"),
}
SALINAS_A_IDS = (1, 10, 11, 12, 13, 14)  # SalinasA keeps the original Salinas class numbers
KSC_CLASSES = {
    1: ("Scrub", "scrub"),
    2: ("Willow swamp", "willow swamp"),
    3: ("Cabbage palm hammock", "cabbage palm hammock"),
    4: ("Cabbage palm/oak hammock", "cabbage palm and oak hammock"),
    5: ("Slash pine", "slash pine forest"),
    6: ("Oak/broadleaf hammock", "oak and broadleaf hammock"),
    7: ("Hardwood swamp", "hardwood swamp"),
    8: ("Graminoid marsh", "graminoid marsh"),
    9: ("Spartina marsh", "spartina marsh"),
    10: ("Cattail marsh", "cattail marsh"),
    11: ("Salt marsh", "salt marsh"),
    12: ("Mud flats", "mud flats"),
    13: ("Water", "open water"),
}
BOTSWANA_CLASSES = {
    1: ("Water", "open water"),
    2: ("Hippo grass", "hippo grass"),
    3: ("Floodplain grasses 1", "floodplain grasses"),
    4: ("Floodplain grasses 2", "floodplain grasses, second type"),
    5: ("Reeds", "reeds"),
    6: ("Riparian", "riparian vegetation"),
    7: ("Firescar", "fire scar"),
    8: ("Island interior", "island interior"),
    9: ("Acacia woodlands", "acacia woodland"),
    10: ("Acacia shrublands", "acacia shrubland"),
    11: ("Acacia grasslands", "acacia grassland"),
    12: ("Short mopane", "short mopane"),
    13: ("Mixed mopane", "mixed mopane woodland"),
    14: ("Exposed soils", "exposed soil"),
}
HOUSTON_CLASSES = {
    1: ("Healthy grass", "healthy grass"),
    2: ("Stressed grass", "stressed grass"),
    3: ("Synthetic grass", "synthetic grass"),
    4: ("Trees", "trees"),
    5: ("Soil", "bare soil"),
    6: ("Water", "water"),
    7: ("Residential", "residential buildings"),
    8: ("Commercial", "commercial buildings"),
    9: ("Road", "road"),
    10: ("Highway", "highway"),
    11: ("Railway", "railway"),
    12: ("Parking Lot 1", "parking lot"),
    13: ("Parking Lot 2", "parking lot with parked cars"),
    14: ("Tennis Court", "tennis court"),
    15: ("Running Track", "running track"),
}
ENMAP_POTSDAM_CLASSES = {
    1: ("roof", "building roofs"),
    2: ("pavement", "paved roads and squares"),
    3: ("low vegetation", "grass and low vegetation"),
    4: ("tree", "trees"),
    5: ("soil", "bare soil"),
    6: ("water", "water"),
}
JASPER_RIDGE_CLASSES = {  # order of `cood` in end4.mat
    1: ("tree", "trees"),
    2: ("water", "water"),
    3: ("dirt", "bare dirt"),
    4: ("road", "road"),
}
SAMSON_CLASSES = {  # order of `cood` in Samson.mat
    1: ("rock", "rock"),
    2: ("tree", "trees"),
    3: ("water", "water"),
}

# EnMAP tiles present in the EnMAP-Box test data (train + validation split); <col>_<row> pixel offsets
# in the 330 x 200 scene, with the sha256 of the image and the label tile.
ENMAP_TILE_SHA256 = {
    (64, 0): ("74e475a6abd6529919c84272f2d1f24480a96aa8b817de750723c5a1b3332578",
              "3747e02de21be8f4e44c684cf6a18cdfa0c4400ca732e757d1660215d4b1b936"),
    (64, 32): ("ca8766e3f118fa39eb2322bb7e9a5ae4b762d3712424bfb689aeb31f639a867f",
               "bbc57b0c8250c1b9f8ef526fd3e6aa8b39b5a392d663129620764c991b3431ff"),
    (96, 0): ("4ea4617a16eb9d84dfb80b70adbd5b36b59217d9f3b72ad3993ac9b0337e38ac",
              "f9607d4b8897517bf22347b10cd102200fe22838aa9596d522558791a3a05950"),
    (96, 96): ("e3d12471a31336c41f43ac53fdfb9aa857309b5d5106275d523556977d2bb9b6",
               "2c9072699db093825d1062ebc534499f6beaf2d319d9bdf9ed295fd517bf0fc2"),
    (96, 128): ("17b077c2926b0992f4605a747810256679a5abd7b068eb30424143d2199b30df",
                "4572f676fa6bb06ab17ded35b92a205eb8130416cbe545d4496e6074bb51b455"),
    (128, 0): ("b3188eabb94fb40cc6e5ad0ec6b3a03983d188e6736ada84e90080fbcd6d4271",
               "6f7945743ab1af207b9dd01108d5eda13c4518955e453f5b2e2197dde9a5b962"),
    (128, 32): ("cb662f139c8681cc909a33b484a2ff4e5b244b529760b7959a79cef0ba1c7324",
                "580c6d395b3b01ae8431f91d40703122ac17573d8fc1a2c7bad0bf7592018929"),
    (128, 96): ("70de0e0802e5ec8b499152c757ac1ee8458d0bd797385bd04517a6737a5131db",
                "96423daf011a77b2c2bd5d04ac80b17cffbcc3b87059ce76a62c1d73773fbf07"),
    (128, 128): ("8369cba48345c7de8a8b3e0e91ad04a09a620b09332277aa7aeb5e26954a40a1",
                 "db3e8063e2177e304fad8fb52e197e623e68afb1c99ff52d4113cb2c85190c4c"),
    (160, 64): ("824f4f50d26b547fe7bd52ca93068e64b44ddcf4f45edab9b020794a42f7d473",
                "7f4248f2116a8571cb79a6f3bcd5eca8e325a5c92c574cf19169a4d0ce01a65b"),
    (160, 128): ("cbb1a12389f027e1f84ccbd5aa65f56c8ea316f5a84a4744697c9100dbc11126",
                 "b38560b7369b2b033188be45f885deab110d8d7a1598b423ff19dbb48a4aa222"),
    (160, 160): ("0ef0ff714b8eff3eff8e8190434eae635c58a920c2f9d9b4dab48d67d3127f1a",
                 "2d0b765aa70250624f1b816b76fc2fd32837557df0bc81d091b4e74f4cb86307"),
    (192, 64): ("fd7fc05826f24bcaf65bc04cc999021566746f47ddd6f30a586f6aed5b17c1ee",
                "0158973f2a6d636d4fd3010f791c7be07ffdf95dad7f7404ec25eba57b81fa34"),
    (192, 96): ("69fd852b038d23ba811ca7927954567be85cb1381d3ca5479568484d560866e2",
                "f582744a96b853de76ce98621cbbed2e130bce803ed79701d11724a69660b662"),
    (192, 128): ("372ee82f2551d9746fc2dd7530c4acd6deea06d90883db5e7f3607ed72d97534",
                 "c49a76b7eb31ccb5b05bd9491cb4e5fd5850fd533bc3715c5c13d5e8a5aaeed1"),
    (192, 160): ("932009ec1fc3deddb52c3fb6cccc9be0c643cc9a860486af465251db6386b101",
                 "40dfb1a13dd2fe7f0230d64f7d6076ad3bf5097b6689192d6cf7b403a8e0d1c6"),
}
ENMAP_TILE_SIZE = 32  # pixels per side of every EnMAP-Box test tile
ENMAP_IMAGE_TILE_BYTES = 1_014_030
ENMAP_LABEL_TILE_BYTES = 4_456


def enmap_tile_name(col: int, row: int) -> str:
    """File name of the EnMAP Potsdam tile whose upper-left pixel is (row, col) in the full scene."""
    return f"enmap_potsdam_tile_{col}_{row}.tif"


def _enmap_files() -> tuple[DatasetFile, ...]:
    files = []
    for (col, row), (image_sha, label_sha) in sorted(ENMAP_TILE_SHA256.items()):
        name = enmap_tile_name(col, row)
        files.append(DatasetFile(f"images/{name}", "image_tile", image_sha, ENMAP_IMAGE_TILE_BYTES,
                                 (f"{ENMAP_TILES}/images/{name}",)))
        files.append(DatasetFile(f"labels/{name}", "label_tile", label_sha, ENMAP_LABEL_TILE_BYTES,
                                 (f"{ENMAP_TILES}/labels/{name}",)))
    return tuple(files)


def _names(classes: dict[int, tuple[str, str]]) -> dict[int, str]:
    return {i: name for i, (name, _) in classes.items()}


def _prompts(classes: dict[int, tuple[str, str]]) -> dict[int, str]:
    return {i: prompt for i, (_, prompt) in classes.items()}


AVIRIS_RANGE_NM = (400.0, 2500.0)  # nominal AVIRIS span; the real 224 centres deviate by up to ~20 nm
AVIRIS_APPROXIMATE = ("Wavelengths are approximate: AVIRIS' nominal 400-2500 nm spread evenly over its 224 "
                      "bands (the real centres of its four spectrometers deviate by up to ~20 nm).")
SALINAS_WATER_BANDS = ((108, 112), (154, 167), (224, 224))  # EHU's removed water-absorption bands, 1-based

_SPECS = (
    DatasetSpec(
        key="indian_pines", title="Indian Pines (AVIRIS, 145 x 145, 16 classes)",
        sensor="AVIRIS, 1992-06-12, 0.4-2.5 um, 224 bands (200 kept), 20 m",
        files=(
            DatasetFile("Indian_pines_corrected.mat", "cube",
                        "ec2f8808710919d566f70f0d4aa885aae1ddfd42b734aba71c5e12ca65450939", 5_953_527,
                        (f"{EHU}/6/67/Indian_pines_corrected.mat",)),
            DatasetFile("Indian_pines_gt.mat", "gt",
                        "65c4687a8ab04f6da4789799bc3bc4f6e88bccac3ed6a2e6ae367e5e6b9e429c", 1_125,
                        (f"{EHU}/c/c4/Indian_pines_gt.mat",)),
        ),
        cube_key="indian_pines_corrected", gt_key="indian_pines_gt",
        class_names=_names(INDIAN_PINES_CLASSES), prompts=_prompts(INDIAN_PINES_CLASSES),
        shape=(145, 145, 200), labelled=10_249, sensor_bands=220,
        file_bands=bands_except(220, (104, 108), (150, 163), (220, 220)), wavelength_range_nm=AVIRIS_RANGE_NM,
        get_from=EHU_PAGE,
        notes="The corrected cube: of the 220 bands of the Indian Pines image, the water-absorption bands "
              "104-108, 150-163 and 220 are already removed by EHU (200 left). Wavelengths are approximate: "
              "400-2500 nm spread evenly over the 220 bands."),
    DatasetSpec(
        key="pavia_university", title="Pavia University (ROSIS, 610 x 340, 9 classes)",
        sensor="ROSIS-03, 0.43-0.86 um, 103 bands, 1.3 m",
        files=(
            DatasetFile("PaviaU.mat", "cube",
                        "28447fa87f7a5797845e9a189c0da85e23b1d06a4ba7361e5ff44efbf834d2fb", 34_806_917,
                        (f"{EHU}/e/ee/PaviaU.mat",)),
            DatasetFile("PaviaU_gt.mat", "gt",
                        "23f6a426928f9b32984adffe659e29f554f9fb6c93b5a107528d308d5087a829", 11_005,
                        (f"{EHU}/5/50/PaviaU_gt.mat",)),
        ),
        cube_key="paviaU", gt_key="paviaU_gt",
        class_names=_names(PAVIA_UNIVERSITY_CLASSES), prompts=_prompts(PAVIA_UNIVERSITY_CLASSES),
        shape=(610, 340, 103), labelled=42_776, get_from=EHU_PAGE,
        notes="103 of ROSIS' 115 bands (12 noisy bands removed by the data providers). Wavelengths are not "
              "stored (which bands were removed is not documented), so the scene has none."),
    DatasetSpec(
        key="salinas", title="Salinas (AVIRIS, 512 x 217, 16 classes)",
        sensor="AVIRIS, 0.4-2.5 um, 224 bands (204 kept), 3.7 m",
        files=(
            DatasetFile("Salinas_corrected.mat", "cube",
                        "5ec1c0d22f56d18ecd336f8e35735863c0f160682e04e0c18ef3f89a3334d87d", 26_552_770,
                        (f"{EHU}/a/a3/Salinas_corrected.mat",)),
            DatasetFile("Salinas_gt.mat", "gt",
                        "ecfab4d31ef5553f097943235d8ea502038eb4a2067b2ad10b33e37c949955e2", 4_277,
                        (f"{EHU}/f/fa/Salinas_gt.mat",)),
        ),
        cube_key="salinas_corrected", gt_key="salinas_gt",
        class_names=_names(SALINAS_CLASSES), prompts=_prompts(SALINAS_CLASSES),
        shape=(512, 217, 204), labelled=54_129, sensor_bands=224,
        file_bands=bands_except(224, *SALINAS_WATER_BANDS), wavelength_range_nm=AVIRIS_RANGE_NM,
        get_from=EHU_PAGE,
        notes="The corrected cube: water-absorption bands 108-112, 154-167 and 224 already removed by EHU. "
              + AVIRIS_APPROXIMATE),
    DatasetSpec(
        key="salinasA", title="SalinasA (AVIRIS subscene of Salinas, 83 x 86, 6 classes)",
        sensor="AVIRIS, 0.4-2.5 um, 224 bands (204 kept), 3.7 m",
        files=(
            DatasetFile("salinasA.mat", "cube",
                        "9ee47a5fa61948bc5ec5e5754e9ab0976850f12f80ace2bf68449d7671e0935b", 1_599_885,
                        (f"{EHU}/d/df/SalinasA.mat",
                         "https://raw.githubusercontent.com/xiangyongcao/SHIP/HEAD/datasets/salinasA.mat")),
            DatasetFile("SalinasA_gt.mat", "gt",
                        "17814c1d3296c0e29b27f320f2c4174d2a68adb87e376abe78f02923e2c2e454", 587,
                        (f"{EHU}/a/aa/SalinasA_gt.mat",)),
        ),
        cube_key="salinasA", gt_key="salinasA_gt",
        class_names={i: SALINAS_CLASSES[i][0] for i in SALINAS_A_IDS},
        prompts={i: SALINAS_CLASSES[i][1] for i in SALINAS_A_IDS},
        shape=(83, 86, 204), labelled=5_348, drop_bands=band_ranges(*SALINAS_WATER_BANDS), sensor_bands=224,
        wavelength_range_nm=AVIRIS_RANGE_NM, get_from=EHU_PAGE,
        notes="Read from the uncorrected 224-band cube; the loader drops the 20 water-absorption bands "
              "108-112, 154-167 and 224 (1-based, EHU's rule for the corrected Salinas cubes), giving 204 bands. "
              "Class ids are Salinas' own (1, 10-14). " + AVIRIS_APPROXIMATE),
    DatasetSpec(
        key="ksc", title="Kennedy Space Center (AVIRIS, 512 x 614, 13 classes)",
        sensor="AVIRIS, 1996-03-23, 0.4-2.5 um, 224 bands (176 kept), 18 m",
        files=(
            DatasetFile("KSC.mat", "cube",
                        "b1ad011cfdb65c853e4f9f6108ca4774467d87f90a5c23b74ff3a2984a3b4786", 56_824_624,
                        (f"{EHU}/2/26/KSC.mat",)),
            DatasetFile("KSC_gt.mat", "gt",
                        "a1d6ab9293691006bd4d9742d1a1e1c141b1aaa5fbc5fa128b33c1d09038510b", 3_240,
                        (f"{EHU}/a/a6/KSC_gt.mat",)),
        ),
        cube_key="KSC", gt_key="KSC_gt",
        class_names=_names(KSC_CLASSES), prompts=_prompts(KSC_CLASSES),
        shape=(512, 614, 176), labelled=5_211, get_from=EHU_PAGE,
        notes="176 bands kept after removing water-absorption and low-SNR bands; which ones is not documented "
              "with the file, so the scene has no wavelengths."),
    DatasetSpec(
        key="botswana", title="Botswana (Hyperion, 1476 x 256, 14 classes)",
        sensor="EO-1 Hyperion, 2001-05-31, 0.4-2.5 um, 242 bands (145 kept), 30 m",
        files=(
            DatasetFile("Botswana.mat", "cube",
                        "f1603903c844cdc2980550b0180688e8e1a72d4292595d1120e1dec2a80a91c7", 78_911_133,
                        (f"{EHU}/7/72/Botswana.mat",)),
            DatasetFile("Botswana_gt.mat", "gt",
                        "668394905e10e629c16584bfd02b0f533b96d6ba18a63274a94ff3a77126a887", 4_039,
                        (f"{EHU}/5/58/Botswana_gt.mat",)),
        ),
        cube_key="Botswana", gt_key="Botswana_gt",
        class_names=_names(BOTSWANA_CLASSES), prompts=_prompts(BOTSWANA_CLASSES),
        shape=(1476, 256, 145), labelled=3_248, get_from=EHU_PAGE,
        notes="145 of Hyperion's 242 bands kept (10-55, 82-97, 102-119, 134-164, 187-220). Hyperion's two "
              "spectrometers are not evenly spaced, so no wavelengths are guessed."),
    DatasetSpec(
        key="houston2013", title="Houston 2013 (CASI, 349 x 1905, 15 classes, official train/test split)",
        sensor="ITRES CASI-1500, 2012-06-23, 0.38-1.05 um, 144 bands, 2.5 m",
        files=(
            DatasetFile("houston.mat", "cube", None, None, ()),
            DatasetFile("houston_gt.mat", "gt",
                        "ebe2438dcc6526bcbb63b5b98009f88de2b8c4a40b5d4c2b2bcd91808aa4e76f", 1_329_968,
                        ("https://raw.githubusercontent.com/mhaut/HSI-datasets/"
                         "6e351f13603d4ac76ef4e40811c072d5329ccb63/Classification/houston_gt.mat",)),
        ),
        cube_key="houston", gt_key="houston_gt_tr", test_gt_key="houston_gt_te",
        class_names=_names(HOUSTON_CLASSES), prompts=_prompts(HOUSTON_CLASSES),
        shape=(349, 1905, 144), labelled=2_832, sensor_bands=144, wavelength_range_nm=(380.0, 1050.0),
        get_from="the 2013 IEEE GRSS Data Fusion Contest (https://hyperspectral.ee.uh.edu/ or the GRSS DASE site "
                 "https://dase.grss-ieee.org/), or join "
                 "mhaut/HSI-datasets Classification/dsetbyparts/houston_part.0-9 with that repository's "
                 "join_dsets.py; save the cube as houston.mat (variable 'houston', 349 x 1905 x 144)",
        notes="Labels are the official training map (2832 pixels); test_labels hold the official disjoint test "
              "map (12197 pixels). The cube has no published checksum. Wavelengths are approximate: 380-1050 nm "
              "spread evenly over the 144 bands."),
    DatasetSpec(
        key="enmap_potsdam", title="EnMAP Potsdam (EnMAP L2A, 16 labelled 32 x 32 tiles of a 200 x 330 scene)",
        sensor="EnMAP L2A, 2022-07-24, 418-2446 nm, 224 bands, 30 m",
        files=_enmap_files(), cube_key=None, gt_key=None,
        class_names=_names(ENMAP_POTSDAM_CLASSES), prompts=_prompts(ENMAP_POTSDAM_CLASSES),
        shape=(200, 330, 224), labelled=5_012, bad_bands=band_ranges((130, 135)),
        get_from="the EnMAP-Box repository, tests/testdata/external/specdeepmap/test_requierments/",
        notes="One sparse scene: the 16 EnMAP-Box SpecDeepMap train/validation tiles placed at their offsets in "
              "the 330 x 200 Potsdam grid; pixels outside the tiles are invalid. Bands 130-135 are no-data "
              "everywhere (flagged bad). The 2 test tiles of EnMAP-Box's split are not included. The class "
              "id -> name mapping is inferred from EnMAP-Box's style file and agrees with the mean spectra."),
    DatasetSpec(
        key="jasper_ridge", title="Jasper Ridge (AVIRIS, 100 x 100, 4 dominant-endmember classes)",
        sensor="AVIRIS, 0.38-2.5 um, 224 bands (198 kept)",
        files=(
            DatasetFile("jasperRidge2_R198.img", "cube",
                        "b9d45b33c901cf77a2e66541e8afde1d6f531e4abec6201d35c5dc5d661343e8", 3_960_000,
                        (f"{PEKALAM}/jasperRidge2_R198.img",)),
            DatasetFile("jasperRidge2_R198.hdr", "header",
                        "4d2e1afb0696bb3d4728166474441a476e97891005b484e948c0a04c94636fd1", 5_825,
                        (f"{PEKALAM}/jasperRidge2_R198.hdr",)),
            DatasetFile("end4.mat", "abundances",
                        "eac85858349f359fc1c374d8d0eefadb55e4da8131c86f7231b14c0142460222", 653_328,
                        ("https://raw.githubusercontent.com/Ryan21wy/P4SU/"
                         "470b6528b42c6741b908e385dc8ec76c1f6f3656/Data/end4.mat",)),
        ),
        cube_key=None, gt_key="A",
        class_names=_names(JASPER_RIDGE_CLASSES), prompts=_prompts(JASPER_RIDGE_CLASSES),
        shape=(100, 100, 198), min_abundance=0.8, get_from=ZHU_UNMIXING_PAGE,
        notes="An unmixing benchmark: a pixel's class is its dominant endmember in the reference abundances "
              "(end4.mat 'A'), and pixels whose largest abundance is below 0.8 stay unlabelled. end4.mat here "
              "is a 2024 re-save with the published A and M (the original file's sha256 is "
              "92f5697b43705802b904fd13ba99b6ce65a3d203682864abc3fbec922beec374)."),
    DatasetSpec(
        key="samson", title="Samson (95 x 95, 3 dominant-endmember classes)",
        sensor="SAMSON airborne imager, 401-889 nm, 156 bands",
        files=(
            DatasetFile("Samson.mat", "abundances",
                        "3c824a1ba6fb087d5ae015038a94c70c68008f371fac22bcd573ba83585e60e4", 3_486_895,
                        ("https://raw.githubusercontent.com/florian6973/hyperspectral-imaging/"
                         "9ea861ca50c95c281a5031f84d1d0ba1e086197e/Samson.mat",)),
            DatasetFile("samson_1.img", "cube",
                        "4a77f11c20067b69555a65e2f7124a3a822e77c5b6c1bc192ac5ee6ccf786052", 2_815_800,
                        (f"{PEKALAM}/samson_1.img",), required=False),
            DatasetFile("samson_1.img.hdr", "header",
                        "3ee2d7c4d1b69e3f1266f570f12ad1553b7d6768bc72a52ca7112d2ba3ca257a", 2_798,
                        (f"{PEKALAM}/samson_1.img.hdr",), required=False),
        ),
        cube_key="SamSon", gt_key="A",
        class_names=_names(SAMSON_CLASSES), prompts=_prompts(SAMSON_CLASSES),
        shape=(95, 95, 156), min_abundance=0.8, sensor_bands=156,
        wavelength_range_nm=(400.938721, 899.074585), wavelengths_exact=True, get_from=ZHU_UNMIXING_PAGE,
        notes="An unmixing benchmark: a pixel's class is its dominant endmember in Samson.mat 'A', and pixels "
              "whose largest abundance is below 0.8 stay unlabelled. The cube is read from the ENVI "
              "samson_1.img (raw values, UTM georeference) when present, else from Samson.mat 'SamSon' "
              "(= max(img, 0) / 1402, rescaled by 1402 to the same units)."),
    DatasetSpec(
        key="demo", title="HyperSynth demo (procedural, 96 x 96, 6 classes)",
        sensor="simulated, 400-2500 nm, 120 bands, 10 m",
        files=(), cube_key=None, gt_key=None,
        class_names={i + 1: c.name for i, c in enumerate(DEMO_CLASSES[:6])},
        prompts={i + 1: c.prompt for i, c in enumerate(DEMO_CLASSES[:6])},
        shape=(96, 96, 120), labelled=96 * 96,
        notes="Generated on the fly by hypersynth.core.demo.make_demo_scene (seed 0), with full ground truth. "
              "Water-vapour bands (1340-1460, 1790-1960 nm) are flagged bad."),
)

# Scenes without class labels (for unsupervised use); not part of the classification benchmarks.
_UNLABELLED_SPECS = (
    DatasetSpec(
        key="moffett_field", title="Moffett Field (AVIRIS crop, 50 x 50, unlabelled)",
        sensor="AVIRIS, 189 bands, normalised reflectance 0..1",
        files=(
            DatasetFile("Moffett_vca.mat", "cube",
                        "40c36358f31f69cad55c417d97e15cce0115650092d14e944aea262c42f25436", 2_389_432,
                        ("https://raw.githubusercontent.com/sampolk/DiffusionLearning-INTEGRAL/"
                         "10d078cf55aa49420a4b7cf58fb922ad88bc12a1/back_end/Misc/Endmember_Files/"
                         "endmember_toolboxes/PLMM/Code/data/Moffett_vca.mat",)),
        ),
        cube_key="data", gt_key=None, class_names={}, prompts={}, shape=(50, 50, 189),
        notes="The PLMM demo crop: 189 selected bands, normalised to 0..1. Its A_VCA/M_VCA are VCA estimates, "
              "not ground truth, so the scene has no labels. Wavelengths are not stored."),
)

DATASETS: dict[str, DatasetSpec] = {spec.key: spec for spec in _SPECS}
UNLABELLED_SCENES: dict[str, DatasetSpec] = {spec.key: spec for spec in _UNLABELLED_SPECS}


class UnknownDatasetError(ValueError):
    """No dataset has this key; the message lists the keys that exist."""


def list_datasets() -> list[DatasetSpec]:
    """The labelled benchmark datasets, in registry order."""
    return list(DATASETS.values())


def dataset_of_label_array(key: str) -> Optional[DatasetSpec]:
    """The benchmark whose ground truth a MATLAB file keeps under the array name ``key`` (``indian_pines_gt``), so a
    map read from it gets the benchmark's class names and prompts; None for any other name."""
    return next((d for d in list_datasets() if key in (d.gt_key, d.test_gt_key)), None)


def get_spec(key: str) -> DatasetSpec:
    """The spec of a labelled dataset or an unlabelled scene, by key.

    Raises:
        UnknownDatasetError: the key is not registered; the message lists the known keys.
    """
    spec = DATASETS.get(key) or UNLABELLED_SCENES.get(key)
    if spec is None:
        raise UnknownDatasetError(
            f"unknown dataset {key!r}; known datasets: {', '.join(DATASETS)}"
            f" (unlabelled scenes: {', '.join(UNLABELLED_SCENES)})")
    return spec
