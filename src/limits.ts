// The one number several limits share, named once. Free of imports: the workers load it too.

/**
 * 2^31 − 1, the largest signed 32-bit integer: the longest delay a Node timer keeps as given (`MAX_TIMER_MS`), the
 * largest attempt ticket (`MAX_TICKET`, so that it fits an Int32), and the bound of the options that count things.
 */
export const MAX_INT32 = 2 ** 31 - 1;
