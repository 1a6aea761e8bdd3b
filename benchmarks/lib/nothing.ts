// An ES module with nothing in it: the storm benchmark's boot breakdown imports it to time the ES module loader's
// first use in a fresh worker.
export {};
