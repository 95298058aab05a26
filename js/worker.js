// worker.js — the model worker of web pages (module Worker started by
// core/remote.js): loads one model and serves the page's calls (core/host.js).
import * as api from './index.js';
import { serve } from './core/host.js';

serve(api, {
  post: (m, transfer) => self.postMessage(m, transfer ?? []),
  onMessage: (f) => (self.onmessage = (e) => f(e.data)),
});
