#!/usr/bin/env bash
# Copies Swagger UI from the npm package swagger-ui-dist into
# internal/httpapi/apidocs/, where the binary embeds it for /api/v1/docs.
#   scripts/apidocs.sh [version]   (default: the version in apidocs/VERSION)
set -euo pipefail
cd "$(dirname "$0")/.."
dest=internal/httpapi/apidocs
version="${1:-$(cat "$dest/VERSION")}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar xzf "swagger-ui-dist-$version.tgz")
for f in swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt; do
  cp "$work/package/$f" "$dest/$f"
done
# The source maps are not shipped; a comment naming one would make browsers ask for it.
sed -i 's#//\# sourceMappingURL=swagger-ui-bundle.js.map##' "$dest/swagger-ui-bundle.js"
sed -i 's#/\*\# sourceMappingURL=swagger-ui.css.map\*/##' "$dest/swagger-ui.css"
echo "$version" > "$dest/VERSION"
echo "swagger-ui-dist $version copied into $dest"
