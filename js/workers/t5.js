// workers/t5.js — the model worker of web pages for T5 (started by T5.modelWorker in
// worker mode, see core/remote.js): loads one model and serves the page's calls (core/host.js).
import { T5 } from '../t5.js';
import { serve, workerScopePort } from '../core/host.js';

serve([T5], workerScopePort());
