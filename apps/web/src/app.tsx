import { ComparePage } from './pages/compare-page';
import { EditorPage } from './pages/editor-page';
import { RunPage } from './pages/run-page';
import { RunsPage } from './pages/runs-page';
import { SweepPage } from './pages/sweep-page';
import { links, useRoute, type Route } from './router';

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'runs':
      return <RunsPage />;
    case 'run':
      return <RunPage key={route.path} path={route.path} />;
    case 'sweep':
      return <SweepPage key={route.path} path={route.path} />;
    case 'compare':
      return <ComparePage paths={route.paths} />;
    case 'editor':
      return <EditorPage {...(route.experiment !== undefined ? { experiment: route.experiment } : {})} />;
    default:
      return (
        <main>
          <p>
            No page at {route.hash}. <a href={links.runs()}>The runs</a>
          </p>
        </main>
      );
  }
}

export function App() {
  const route = useRoute();
  return (
    <>
      <nav class="top">
        <a class="brand" href={links.runs()}>
          dlexp
        </a>
        <a href={links.runs()} class={route.page === 'runs' ? 'current' : ''}>
          Runs
        </a>
        <a href={links.editor()} class={route.page === 'editor' ? 'current' : ''}>
          Editor
        </a>
      </nav>
      <Page route={route} />
    </>
  );
}
