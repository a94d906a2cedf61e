# HyperSynth: `make demo` sets up and classifies the embedded demo scene; `make test` sets up and tests.
PY := .venv/bin/python
# Benchmark cubes: ../shared/data beside the checkout unless HYPERSYNTH_DATA_DIR says otherwise.
export HYPERSYNTH_DATA_DIR ?= $(abspath $(CURDIR)/../shared/data)
PLUGIN_DIR ?= $(HOME)/.local/share/QGIS/QGIS3/profiles/default/python/plugins

.PHONY: setup demo test test-slow bench qgis install-plugin zip clean

setup:
	@bash scripts/setup.sh

demo: setup
	bin/hypersynth demo --out out/demo --overwrite

test: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -m "not slow" -q

test-slow: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -m slow -q

bench: setup
	bin/hypersynth bench --datasets salinasA,enmap_potsdam,demo --labels-per-class 2,5 --seeds 0-4 \
	  --methods rf,svm,cnn,cnn-pseudo,augment --preset fast --overwrite \
	  --json bench-out/bench.json --markdown bench-out/bench.md

install-plugin: setup
	mkdir -p "$(PLUGIN_DIR)"
	ln -sfn "$(CURDIR)" "$(PLUGIN_DIR)/hypersynth"
	@echo "linked $(PLUGIN_DIR)/hypersynth -> $(CURDIR); enable HyperSynth in QGIS's Plugin Manager"

zip:
	@mkdir -p dist
	git archive --format=zip --prefix=hypersynth/ -o dist/hypersynth.zip HEAD
	@echo "dist/hypersynth.zip: install it with QGIS > Plugins > Install from ZIP"

qgis: setup
	bash scripts/open_qgis.sh

clean:
	rm -rf out dist bench-out .pytest_cache
