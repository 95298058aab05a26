// worker.js — a model worker for every class of the package (GPT, BERT, T5), for
// embedders that start model workers themselves (setModelWorkerFactory). The package's
// own worker mode starts one worker per class (js/workers/*.js), so that a bundled app
// carries only the classes it imports.
import * as api from './index.js';
import { serve, workerScopePort } from './core/host.js';

serve(Object.values(api), workerScopePort());
