// After `vite build`: write the digest of the console's sources next to the build, so a test
// (tests/console/test_build.py) can tell that the committed build is current without npm.
// The digest: SHA-256 over every file under console/ but node_modules/, in path order, each as
// its relative path, a NUL byte, its bytes, a NUL byte. Keep in step with sources_digest().
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL(".", import.meta.url));

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === "node_modules") return [];
    const path = join(dir, entry.name);
    return entry.isDirectory() ? files(path) : [path];
  });
}

const digest = createHash("sha256");
const paths = files(root).map((p) => relative(root, p).split(sep).join("/")).sort();
for (const path of paths) {
  digest.update(path);
  digest.update("\0");
  digest.update(readFileSync(join(root, path)));
  digest.update("\0");
}
writeFileSync(join(root, "..", "api", "console_static", "SOURCES.sha256"), digest.digest("hex") + "\n");
