import './node-shims/globals';
import * as tf from '@tensorflow/tfjs';
import { render } from 'preact';
import { App } from './app';
import './styles.css';

// TF.js' per-op debug checks off, as in the CLI; the page starts on the cheap cpu backend and a
// run switches to the one it trains on.
tf.enableProdMode();
void tf.setBackend('cpu');
render(<App />, document.getElementById('app')!);
