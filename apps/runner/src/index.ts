export { main, EXIT, reportError, createRunnerRegistries, usage } from './main';
