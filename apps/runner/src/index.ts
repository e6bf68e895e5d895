export { main, EXIT, reportError, createRunnerRegistries } from './main';
