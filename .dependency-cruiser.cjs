/**
 * The layers of src/, bottom first; lint fails on an import that runs up a layer or sideways
 * between two layers of the same rank. Data flows one way: procfs -> scan (discovery) -> rows and
 * the Scope report -> snapshot -> CLI output | server. `capture` writes fixture trees from procfs.
 */
const LAYERS = [
  ['native'], // koffi bindings: syscalls Node lacks
  ['procfs'], // reading and parsing /proc
  ['scan', 'capture'], // discovery: namespaces, containers, the incremental scanner | fixture capture
  ['lsns', 'scope'], // lsns-compatible rows and output | the Scope report
  ['snapshot'], // the report pipeline: full and incremental sources, serialisation
  ['server'], // the plugin socket and HTTP server
  ['cli'], // commands: list, report, serve, check, capture
];

const rank = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i])));
const layerRules = [...rank].map(([name, r]) => {
  const notBelow = [...rank].filter(([other, o]) => other !== name && o >= r).map(([other]) => other);
  return {
    name: `${name}-imports-only-lower-layers`,
    comment: `src/${name}/ may import only from layers below it (${LAYERS.slice(0, r).flat().join(', ') || 'none'})`,
    severity: 'error',
    from: { path: `^src/${name}/` },
    to: { path: `^src/(${notBelow.join('|')})/` },
  };
});

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'src-is-not-a-layer-of-its-own',
      comment: 'every product module sits in one of the layer folders',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: `^src/(?!(${[...rank.keys()].join('|')})/)` },
    },
    {
      name: 'product-does-not-import-tests',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|fixtures)/' },
    },
    {
      name: 'product-uses-runtime-dependencies-only',
      comment: 'dev dependencies are not installed in the image',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'] },
    },
    {
      name: 'every-import-resolves',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
