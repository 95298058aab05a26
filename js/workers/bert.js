// workers/bert.js — the model worker of web pages for BERT (started by BERT.modelWorker in
// worker mode, see core/remote.js): loads one model and serves the page's calls (core/host.js).
import { BERT } from '../bert.js';
import { serve, workerScopePort } from '../core/host.js';

serve([BERT], workerScopePort());
