// workers/gpt.js — the model worker of web pages for GPT (started by GPT.modelWorker in
// worker mode, see core/remote.js): loads one model and serves the page's calls (core/host.js).
import { GPT } from '../gpt.js';
import { serve, workerScopePort } from '../core/host.js';

serve([GPT], workerScopePort());
