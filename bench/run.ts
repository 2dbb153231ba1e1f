/**
 * `npm run bench [-- SECTION...]`: oci2fs against the reference tools on the
 * same image, in one run, printing wall time, CPU time, peak RSS and ratios.
 * Sections: pull, tar, squashfs, erofs, ext4, fsverity (default: all).
 * BENCH_SQUASHFS=a|b limits the squashfs section to one setting.
 *
 * Needs the corpus of ../shared/bench-images (BENCH_REF, default
 * 127.0.0.1:5000/bench/big:latest, served by a loopback docker-registry).
 * Prints a notice and exits 0 when the registry does not answer.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, existsSync, statSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measure, formatRow, ratio, type Measurement } from './measure.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The package's bin, what users run: a shell launcher that starts node on dist/src/bin/oci2fs.js. */
const LAUNCHER = resolve(here, '..', '..', 'bin', 'oci2fs');
const REF = process.env.BENCH_REF ?? '127.0.0.1:5000/bench/big:latest';
const HOST = REF.split('/')[0];
const WORK = process.env.BENCH_WORK ?? '/work/bench/run';
const OURS = LAUNCHER;

const sections = process.argv.slice(2);
const want = (s: string) => sections.length === 0 || sections.includes(s);

function sizeMb(p: string): string {
  try {
    return (statSync(p).size / 2 ** 20).toFixed(1) + ' MB';
  } catch {
    return '?';
  }
}

/**
 * Moves a step's output tree out of the way, to be deleted when the run
 * ends. Deleting tens of thousands of files in the middle of a run would
 * slow whichever step creates files next: ext4 without a journal (this
 * machine's root file system) skips inodes freed in the last 60 s (360 s
 * while their inode table block is dirty) when it allocates, scanning past
 * them (`recently_deleted`, fs/ext4/ialloc.c). Outside any timing.
 */
let discarded = 0;
function discard(path: string): void {
  if (!existsSync(path)) return;
  mkdirSync(join(WORK, 'trash'), { recursive: true });
  renameSync(path, join(WORK, 'trash', String(discarded++)));
}

/** Runs of each sub-second step (warm pull and its yardsticks); the median is reported. */
const WARM_RUNS = 5;

/** The run with the median wall time. */
function median(ms: Measurement[]): Measurement {
  return [...ms].sort((a, b) => a.wallS - b.wallS)[Math.floor(ms.length / 2)];
}

/** Whether `name` is an executable on PATH. */
const hasCommand = (name: string): boolean => spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;

async function step(label: string, script: string): Promise<Measurement> {
  const m = await measure(label, script);
  console.log(formatRow(m));
  return m;
}

function sum(label: string, ms: Measurement[]): Measurement {
  return {
    label,
    wallS: ms.reduce((a, m) => a + m.wallS, 0),
    userS: ms.reduce((a, m) => a + m.userS, 0),
    sysS: ms.reduce((a, m) => a + m.sysS, 0),
    maxRssMb: Math.max(...ms.map((m) => m.maxRssMb)),
    ok: ms.every((m) => m.ok),
    stderrTail: ms.find((m) => !m.ok)?.stderrTail ?? '',
  };
}

/**
 * A copy of the pulled store without spilled layers or cached conversions:
 * the state right after `oci2fs pull`, for a first conversion (untimed copy).
 */
async function freshStore(store: string, name: string): Promise<string> {
  const copy = `${store}-${name}`;
  await measure('fresh store copy', `rm -rf ${copy} && cp -a ${store} ${copy} && rm -rf ${copy}/diffs ${copy}/artifacts`);
  return copy;
}

/**
 * Makes sure `store` holds the image's layers spilled (untimed), so a
 * "layers spilled" step measures a conversion alone even when the sections
 * that spill them (tar, squashfs) did not run before it.
 */
async function ensureSpilled(store: string, ins: string): Promise<void> {
  const diffs = join(store, 'diffs', 'sha256');
  if (existsSync(diffs) && readdirSync(diffs).some((n) => /^[0-9a-f]{64}$/.test(n))) return;
  await measure('spill layers (untimed)', `${OURS} import -q ${ins} --store ${store} --no-cache ${REF} -o ${WORK}/spill.tar; rm -f ${WORK}/spill.tar`);
}

async function main(): Promise<void> {
  const ping = await fetch(`http://${HOST}/v2/`).catch(() => undefined);
  if (!ping) {
    console.log(`bench: no registry answers at ${HOST}; build the corpus with ../shared/bench-images/ first. Nothing measured.`);
    return;
  }
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  const store = join(WORK, 'store');
  const ins = `--insecure-registry ${HOST}`;
  const layout = join(WORK, 'layout');
  console.log(`oci2fs benchmarks on ${REF} (2 cores; each pair in this one run)\n`);

  // Reference: skopeo copy into an OCI layout (also the input of the umoci chains).
  const skopeo = await step('skopeo copy docker:// → oci:', `skopeo copy -q --src-tls-verify=false docker://${REF} oci:${layout}:img`);

  if (want('pull')) {
    console.log('\npull');
    const cold = await step('oci2fs pull (cold, empty store)', `${OURS} pull -q ${ins} --store ${store}-pull ${REF}`);
    // Sub-second steps swing with the VM: each is run WARM_RUNS times, interleaved, and the median kept.
    const [repo, tag] = REF.slice(HOST.length + 1).split(':');
    const accept = 'application/vnd.oci.image.index.v1+json,application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.list.v2+json,application/vnd.docker.distribution.manifest.v2+json';
    const unsetNec = process.env.NODE_EXTRA_CA_CERTS ? 'env -u NODE_EXTRA_CA_CERTS ' : '';
    const steps: [string, string][] = [
      ['oci2fs pull (warm, all present)', `${OURS} pull -q ${ins} --store ${store}-pull ${REF}`],
      ['node -e 0 (node alone)', 'node -e 0'],
      // one manifest round trip in the same state (the registry's files cold too), by curl
      ['manifest round trip (curl)', `curl -sf -o /dev/null -H 'Accept: ${accept}' http://${HOST}/v2/${repo}/manifests/${tag}`],
      // NODE_EXTRA_CA_CERTS makes node parse its CA bundle at start-up, in every
      // process, before any script runs (`node -e 0` shows it); bin/oci2fs defers
      // it to our first verified TLS connection, so both oci2fs rows should agree.
      ...(unsetNec ? ([
        ['oci2fs pull (warm), NODE_EXTRA_CA_CERTS unset', `${unsetNec}${OURS} pull -q ${ins} --store ${store}-pull ${REF}`],
        ['node -e 0, NODE_EXTRA_CA_CERTS unset', `${unsetNec}node -e 0`],
      ] as [string, string][]) : []),
    ];
    const runs: Measurement[][] = steps.map(() => []);
    for (let i = 0; i < WARM_RUNS; i++) for (const [k, [label, script]] of steps.entries()) runs[k].push(await measure(label, script));
    const [warm, node0, rtt, clean, clean0] = runs.map((r) => {
      const m = median(r);
      console.log(formatRow({ ...m, label: `${m.label} (median of ${r.length})` }));
      return m;
    });
    console.log(`  cold vs skopeo: ${ratio(cold, skopeo)};  warm: ${warm.wallS.toFixed(3)} s, ${(warm.wallS - rtt.wallS).toFixed(3)} s beyond one manifest round trip (node alone ${node0.wallS.toFixed(3)} s)`);
    if (clean && clean0) {
      console.log(`  warm without NODE_EXTRA_CA_CERTS: ${clean.wallS.toFixed(3)} s, ${(clean.wallS - rtt.wallS).toFixed(3)} s beyond one manifest round trip (node alone ${clean0.wallS.toFixed(3)} s)`);
    }
  }

  // Our store, pulled once for the conversion sections (measured above).
  await measure('prepull', `${OURS} pull -q ${ins} --store ${store} ${REF}`);

  let unpack: Measurement | undefined;
  const bundle = join(WORK, 'bundle');
  const needUnpack = want('tar') || want('squashfs') || want('erofs') || want('ext4');
  if (needUnpack) {
    console.log('\nunpack references');
    unpack = await step('umoci unpack (root)', `umoci unpack --image ${layout}:img ${bundle}`);
  }

  if (want('tar')) {
    console.log('\ntar and dir');
    const rootless = await step('umoci unpack --rootless', `umoci unpack --rootless --image ${layout}:img ${WORK}/bundle-rl`);
    discard(join(WORK, 'bundle-rl'));
    const tar = await step('oci2fs import -o x.tar', `${OURS} import -q ${ins} --store ${store} --no-cache ${REF} -o ${WORK}/x.tar`);
    const dir = await step('oci2fs import -o dir/', `${OURS} import -q ${ins} --store ${store} --no-cache ${REF} -o ${WORK}/xdir/`);
    console.log(`  tar vs umoci unpack: ${ratio(tar, unpack!)};  dir vs umoci unpack: ${ratio(dir, unpack!)};  dir vs rootless: ${ratio(dir, rootless)}`);
    discard(join(WORK, 'xdir'));
    rmSync(join(WORK, 'x.tar'), { force: true });
  }

  if (want('squashfs')) {
    const settings = [
      { name: '(a) zstd 3, 1 MiB', ours: '--compressor zstd --level 3 --block-size 1M', mk: '-comp zstd -Xcompression-level 3 -b 1M', t2s: '-c zstd -X level=3 -b 1048576' },
      { name: '(b) gzip 9, 128 KiB', ours: '--compressor gzip --level 9 --block-size 128K', mk: '-comp gzip -Xcompression-level 9 -b 128K', t2s: '-c gzip -X level=9 -b 131072' },
    ];
    // BENCH_SQUASHFS=a or b runs one setting only (b, gzip 9, takes minutes in mksquashfs alone).
    const only = process.env.BENCH_SQUASHFS;
    for (const s of settings.filter((x) => !only || x.name.startsWith(`(${only})`))) {
      console.log(`\nsquashfs ${s.name}`);
      const mk = await step('mksquashfs of the unpacked tree', `rm -f ${WORK}/mk.sqsh; mksquashfs ${bundle}/rootfs ${WORK}/mk.sqsh ${s.mk} -no-progress -quiet`);
      const chain = sum('chain: skopeo + umoci unpack + mksquashfs', [skopeo, unpack!, mk]);
      console.log(formatRow(chain));
      const t2s = await step('tar2sqfs of a tar of the tree', `tar -C ${bundle}/rootfs -cf - . | tar2sqfs -q -f ${s.t2s} ${WORK}/t2s.sqsh`);
      const cold = await step('oci2fs import (cold: empty store)', `${OURS} import --json ${ins} --store ${store}-sq ${s.ours} ${REF} -o ${WORK}/o.sqsh > ${WORK}/cold.json`);
      rmSync(`${store}-sq`, { recursive: true, force: true }); // a store: a few hundred files
      const conv = await step('oci2fs import (store warm, no cache)', `${OURS} import --json ${ins} --store ${store} --no-cache ${s.ours} ${REF} -o ${WORK}/o.sqsh > ${WORK}/conv.json`);
      // compression CPU as the writer measured it (stats.compress-seconds); the rest is ours
      for (const [m, f] of [[cold, 'cold.json'], [conv, 'conv.json']] as const) {
        const c = (JSON.parse(readFileSync(join(WORK, f), 'utf8')) as { stats?: Record<string, number> }).stats?.['compress-seconds'] ?? 0;
        console.log(`  ${m.label}: compression ${c.toFixed(1)} s CPU, everything else ${(m.userS + m.sysS - c).toFixed(1)} s CPU`);
      }
      if (hasCommand('enroot')) {
        const enroot = await step('enroot import (ENROOT_SQUASH_OPTIONS as above)', `cd ${WORK} && rm -f e.sqsh && ENROOT_ALLOW_HTTP=yes ENROOT_SQUASH_OPTIONS='${s.mk}' enroot import -o e.sqsh 'docker://${REF.replace('/', '#')}'`);
        console.log(`  cold vs enroot import: ${ratio(cold, enroot)}`);
      } else {
        console.log('  enroot import: not installed here (enroot is not packaged for Debian 12)');
      }
      await measure('fill cache', `${OURS} import -q ${ins} --store ${store} ${s.ours} ${REF} -o ${WORK}/o2.sqsh`);
      const rep = await step('oci2fs import (repeat: cache hit)', `${OURS} import -q ${ins} --store ${store} ${s.ours} ${REF} -o ${WORK}/o3.sqsh`);
      // the issue's repeat goal is for delivery by reflink or link (this file system has no reflinks)
      const repLink = await step('oci2fs import --link (repeat: cache hit)', `${OURS} import -q --link ${ins} --store ${store} ${s.ours} ${REF} -o ${WORK}/o4.sqsh`);
      console.log(`  cold vs chain: ${ratio(cold, chain)};  vs tar2sqfs: ${ratio(conv, t2s)};  conversion vs mksquashfs: ${ratio(conv, mk)}`);
      console.log(`  repeat import: ${rep.wallS.toFixed(3)} s copied, ${repLink.wallS.toFixed(3)} s linked;  sizes: ours ${sizeMb(`${WORK}/o.sqsh`)}, mksquashfs ${sizeMb(`${WORK}/mk.sqsh`)}, tar2sqfs ${sizeMb(`${WORK}/t2s.sqsh`)}`);
      for (const f of ['mk.sqsh', 't2s.sqsh', 'o.sqsh', 'o2.sqsh', 'o3.sqsh', 'o4.sqsh', 'e.sqsh', 'cold.json', 'conv.json']) rmSync(join(WORK, f), { force: true });
    }
  }

  if (want('erofs')) {
    console.log('\nEROFS and composefs');
    const mk = await step('mkfs.erofs of the unpacked tree', `rm -f ${WORK}/mk.erofs; mkfs.erofs ${WORK}/mk.erofs ${bundle}/rootfs >/dev/null`);
    const chain = sum('chain: umoci unpack + mkfs.erofs', [unpack!, mk]);
    console.log(formatRow(chain));
    const first = await freshStore(store, 'erofs');
    const erofs1 = await step('oci2fs import --format erofs (first conversion)', `${OURS} import -q ${ins} --store ${first} --no-cache ${REF} -o ${WORK}/o.erofs`);
    await ensureSpilled(store, ins);
    const erofs = await step('oci2fs import --format erofs (layers spilled)', `${OURS} import -q ${ins} --store ${store} --no-cache ${REF} -o ${WORK}/o.erofs`);
    const cfs = await step('oci2fs import --format composefs', `${OURS} import -q ${ins} --store ${store} --no-cache ${REF} --format composefs -o ${WORK}/o.cfs --objects ${WORK}/objects`);
    console.log(`  erofs vs chain: first ${ratio(erofs1, chain)}, spilled ${ratio(erofs, chain)};  composefs vs chain: ${ratio(cfs, chain)}`);
    const objects = execFileSync('sh', ['-c', `find ${WORK}/objects -type f | wc -l; du -sb ${WORK}/objects | cut -f1`], { encoding: 'utf8' }).split('\n');
    console.log(`  bytes written: EROFS ours ${sizeMb(`${WORK}/o.erofs`)}, mkfs.erofs ${sizeMb(`${WORK}/mk.erofs`)}; composefs image ${sizeMb(`${WORK}/o.cfs`)} + ${objects[0]} objects, ${(Number(objects[1]) / 2 ** 20).toFixed(1)} MB`);
    if (hasCommand('mkcomposefs')) {
      const mkc = await step('mkcomposefs of the unpacked tree', `rm -rf ${WORK}/mkc-objects ${WORK}/mkc.cfs; mkcomposefs --digest-store=${WORK}/mkc-objects ${bundle}/rootfs ${WORK}/mkc.cfs`);
      console.log(`  composefs vs umoci unpack + mkcomposefs: ${ratio(cfs, sum('', [unpack!, mkc]))}`);
      discard(join(WORK, 'mkc-objects'));
    } else {
      console.log('  mkcomposefs: not installed here (Debian 12 has no composefs package)');
    }
    // Objects are shared across images: the base image (the big one's first layer) into the same objects dir.
    const base = process.env.BENCH_BASE_REF ?? `${HOST}/bench/debian:minbase`;
    try {
      const r = JSON.parse(execFileSync(LAUNCHER, ['import', '--json', '--insecure-registry', HOST, '--store', store, '--no-cache', base, '--format', 'composefs', '-o', `${WORK}/base.cfs`, '--objects', `${WORK}/objects`], { encoding: 'utf8' }));
      console.log(`  composefs object sharing: ${base} into the same objects dir references ${r.facts.objects} objects, wrote ${r.facts.newObjects} new`);
    } catch (e) {
      console.log(`  composefs object sharing: not measured (${(e as Error).message.split('\n')[0]})`);
    }
    rmSync(first, { recursive: true, force: true });
    discard(join(WORK, 'objects'));
  }

  if (want('ext4')) {
    console.log('\next4');
    const mk = await step('mkfs.ext4 -d of the unpacked tree (root)', `rm -f ${WORK}/mk.ext4; truncate -s 4G ${WORK}/mk.ext4; mkfs.ext4 -q -d ${bundle}/rootfs ${WORK}/mk.ext4`);
    const own = await step('debugfs ownership pass (uid, gid, mode)', `sh ${resolve(here, '..', '..', 'bench', 'debugfs-ownership.sh')} ${bundle}/rootfs ${WORK}/mk.ext4`);
    const chain = sum('chain: umoci unpack + mkfs.ext4 -d + debugfs', [unpack!, mk, own]);
    console.log(formatRow(chain));
    const first = await freshStore(store, 'ext4');
    const ours1 = await step('oci2fs import -o x.ext4 (first conversion)', `${OURS} import -q ${ins} --store ${first} --no-cache ${REF} -o ${WORK}/o.ext4`);
    await ensureSpilled(store, ins);
    const ours = await step('oci2fs import -o x.ext4 (layers spilled)', `${OURS} import -q ${ins} --store ${store} --no-cache ${REF} -o ${WORK}/o.ext4`);
    console.log(`  ext4 vs chain: first ${ratio(ours1, chain)}, spilled ${ratio(ours, chain)};  vs umoci unpack + mkfs.ext4 -d alone: first ${ratio(ours1, sum('', [unpack!, mk]))}`);
    rmSync(first, { recursive: true, force: true });
  }

  if (want('fsverity')) {
    console.log('\nfs-verity digest of a 1 GiB file');
    const f = join(WORK, 'big.bin');
    if (!existsSync(f)) await measure('make file', `head -c 1073741824 /dev/urandom > ${f}`);
    const ref = await step('fsverity digest', `fsverity digest --hash-alg=sha256 --block-size=4096 ${f}`);
    const ours = await step('oci2fs fsverity', `${OURS} fsverity ${f}`);
    console.log(`  ours vs fsverity: ${ratio(ours, ref)}`);
  }
  rmSync(WORK, { recursive: true, force: true });
}

await main();
