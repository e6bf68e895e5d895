import { useEffect, useRef, useState } from 'preact/hooks';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** Chart data is inline in every spec: a chart that asks to load anything is refused. */
const refusingLoader = vega.loader();
refusingLoader.load = async (uri: string) => {
  throw new Error(`charts load nothing (asked for ${uri})`);
};

/**
 * One chart from a Vega-Lite spec of @dlexp/plots (the same specs as the static plots), drawn as
 * SVG. A new spec (new rows of a live run) redraws it.
 */
export function VegaChart({ spec, name }: { spec: TopLevelSpec; name: string }) {
  const container = useRef<HTMLDivElement>(null);
  const [problem, setProblem] = useState<string | undefined>();
  useEffect(() => {
    const element = container.current;
    if (element === null) return;
    let view: vega.View | undefined;
    let cancelled = false;
    try {
      view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'svg', container: element, hover: true, loader: refusingLoader });
      view.logLevel(vega.Error);
      view
        .runAsync()
        .then(() => {
          if (!cancelled) element.dataset['rendered'] = 'true';
        })
        .catch((error: unknown) => setProblem(String(error)));
    } catch (error) {
      setProblem(error instanceof Error ? error.message : String(error));
    }
    return () => {
      cancelled = true;
      view?.finalize();
    };
  }, [spec]);
  return (
    <figure class="chart" data-chart={name}>
      <div ref={container} />
      {problem !== undefined && <figcaption class="error">{problem}</figcaption>}
    </figure>
  );
}
